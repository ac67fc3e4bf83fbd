"""The metrics the alerts (and the dashboard) query are the ones the processes
export, and no metric carries a label whose values grow with the data."""

from __future__ import annotations

import importlib
import pkgutil
import re

from prometheus_client import REGISTRY

import orderflow.agents
import orderflow.gateway
from orderflow.observability import ALERTS_FILE, DASHBOARD_FILE, dashboard_queries

# Every module that declares metrics, imported: the registry holds what was imported,
# whichever tests ran before these.
for _package in (orderflow.agents, orderflow.gateway):
    for _module in pkgutil.walk_packages(_package.__path__, _package.__name__ + "."):
        importlib.import_module(_module.name)

UNBOUNDED_LABELS = {"orderId", "order_id", "customerId", "customer_id", "productId", "product_id",
                    "paymentId", "key", "email"}


def exported_series() -> set[str]:
    names: set[str] = set()
    for metric in REGISTRY.collect():
        names.add(metric.name)
        for suffix in ("_total", "_bucket", "_count", "_sum", "_created"):
            names.add(metric.name + suffix)
    return names


def queried(text: str) -> set[str]:
    return set(re.findall(r"\b(?:orderflow|process)_[a-z_]+", text))


def test_every_metric_an_alert_queries_is_exported() -> None:
    assert queried(ALERTS_FILE.read_text()) - exported_series() == set()


def test_every_metric_a_dashboard_panel_queries_is_exported() -> None:
    queries = dashboard_queries(DASHBOARD_FILE)
    assert len(queries) >= 18
    assert queried(" ".join(query for _title, query in queries)) - exported_series() == set()


def test_no_metric_is_labelled_by_an_id() -> None:
    # the label names a metric was declared with (prometheus-client keeps them on the
    # collector; samples show only the label sets used so far)
    declared = {getattr(collector, "_name", ""): set(getattr(collector, "_labelnames", ()))
                for collector in list(REGISTRY._collector_to_names)}
    ours = {name: labels for name, labels in declared.items() if name.startswith("orderflow_")}
    assert len(ours) >= 20
    assert {name: labels & UNBOUNDED_LABELS for name, labels in ours.items() if labels & UNBOUNDED_LABELS} == {}
