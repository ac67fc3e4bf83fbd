"""Prometheus for orderflow: the scrape configuration of a stack's processes
and the alert rules shipped beside this module (``prometheus/alerts.yml``,
unit-tested by ``prometheus/alerts-test.yml`` with ``promtool test rules``),
and the queries of the Grafana dashboard (``grafana/orderflow-dashboard.json``).

Consumes the processes' URLs (from the settings or a running ``DevStack``);
produces a ``prometheus.yml`` (JSON, which is YAML) and, for a test that
cannot wait minutes, the same rules with their ``for`` durations scaled down.
Owns the job names the rules match on. Opens nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

__all__ = ["ALERTMANAGER_FILE", "ALERTS_FILE", "ALERTS_TEST_FILE", "DASHBOARD_FILE", "GATEWAY_JOB", "PAYMENT_JOB",
           "WORKER_JOB", "ScrapeTargets", "dashboard_queries", "prometheus_config", "scaled_rules", "write_config"]

RULES_DIR = Path(__file__).parent / "prometheus"
DASHBOARD_FILE = Path(__file__).parent / "grafana" / "orderflow-dashboard.json"
ALERTS_FILE = RULES_DIR / "alerts.yml"
ALERTS_TEST_FILE = RULES_DIR / "alerts-test.yml"
ALERTMANAGER_FILE = RULES_DIR / "alertmanager.yml"
WORKER_JOB = "orderflow-worker"
GATEWAY_JOB = "orderflow-gateway"
PAYMENT_JOB = "orderflow-payment-provider"
_DURATION = re.compile(r"^(\d+)([smh])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class ScrapeTargets:
    """The base URLs of the processes to scrape (each serves /metrics)."""

    workers: Sequence[str]
    gateways: Sequence[str]
    payment_provider: Sequence[str] = ()
    ca_file: Path | None = None  # the CA of HTTPS targets' certificates


def _job(name: str, urls: Sequence[str], ca_file: Path | None, interval_s: float) -> list[dict[str, Any]]:
    """One scrape job per URL scheme (Prometheus sets the scheme per job)."""
    jobs: list[dict[str, Any]] = []
    for scheme in ("http", "https"):
        hosts = [urlsplit(u).netloc for u in urls if urlsplit(u).scheme == scheme]
        if not hosts:
            continue
        job: dict[str, Any] = {"job_name": name, "scheme": scheme, "metrics_path": "/metrics",
                               "scrape_interval": f"{interval_s:g}s", "static_configs": [{"targets": hosts}]}
        if scheme == "https" and ca_file is not None:
            job["tls_config"] = {"ca_file": str(ca_file)}
        if jobs:  # the same job over both schemes: Prometheus wants unique names
            job["job_name"] = f"{name}-{scheme}"
        jobs.append(job)
    return jobs


def prometheus_config(targets: ScrapeTargets, rule_files: Sequence[Path], interval_s: float = 15,
                      alertmanagers: Sequence[str] = ()) -> dict[str, Any]:
    """A prometheus.yml for these targets and rule files."""
    scrape = (_job(WORKER_JOB, targets.workers, targets.ca_file, interval_s)
              + _job(GATEWAY_JOB, targets.gateways, targets.ca_file, interval_s)
              + _job(PAYMENT_JOB, targets.payment_provider, targets.ca_file, interval_s))
    config: dict[str, Any] = {
        "global": {"scrape_interval": f"{interval_s:g}s", "evaluation_interval": f"{interval_s:g}s"},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": scrape,
    }
    if alertmanagers:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]}
    return config


def _scaled(duration: str, scale: float) -> str:
    found = _DURATION.match(duration)
    if found is None:
        raise ValueError(f"unsupported duration {duration!r}")
    seconds = int(found.group(1)) * _SECONDS[found.group(2)] * scale
    return f"{max(1, round(seconds))}s"


def scaled_rules(scale: float, source: Path = ALERTS_FILE) -> dict[str, Any]:
    """The shipped alert rules with each ``for`` multiplied by ``scale`` (a test's short waits)."""
    rules: dict[str, Any] = yaml.safe_load(source.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = _scaled(rule["for"], scale)
    return rules


def write_config(directory: Path, targets: ScrapeTargets, interval_s: float = 15,
                 rules_scale: float = 1.0, alertmanagers: Sequence[str] = ()) -> Path:
    """Write prometheus.yml (and the rules it loads) into ``directory``; returns the config's path."""
    directory.mkdir(parents=True, exist_ok=True)
    rules_file = directory / "alerts.yml"
    rules_file.write_text(json.dumps(scaled_rules(rules_scale), indent=1) if rules_scale != 1.0
                          else ALERTS_FILE.read_text())
    config_file = directory / "prometheus.yml"
    config_file.write_text(json.dumps(prometheus_config(targets, [rules_file], interval_s, alertmanagers), indent=1))
    return config_file


def dashboard_queries(path: Path = DASHBOARD_FILE) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query of the Grafana dashboard at ``path``."""
    dashboard = json.loads(path.read_text())
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel["targets"]]
