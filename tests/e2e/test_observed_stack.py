"""The local stack observed, as `orderflow dev --observe` runs it, on its own
secured broker: SASL_SSL with a SCRAM user per component and the catalog's
ACLs, JSON logs, traces to the local OTLP receiver, Prometheus with
orderflow's alert rules (their waits scaled down) and Alertmanager.

An order placed over HTTPS reaches confirmed with every process connected as
its own principal, none as a super user; every panel query of the shipped
Grafana dashboard answers under a little load; one order is one trace from
the gateway through every agent, and the JSON log lines carry it; `orderflow
status` reports the stack; and a killed worker fires the worker-down alert,
seen through Prometheus' HTTP API and in Alertmanager.
"""

from __future__ import annotations

import json
import math
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.http import authorize, get, post_json
from support.saga import await_status, new_customer, place, seed_stock

from orderflow.kafka_acls import OPERATOR
from orderflow.observability import dashboard_queries
from orderflow.ports import free_port, free_port_run
from orderflow.processes import orderflow_command
from orderflow.settings import Settings
from orderflow.stack import DevStack

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def secured_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """``orderflow dev``'s stack: its own secured broker, each process its own principal."""
    settings = Settings(_env_file=None, run_dir=tmp_path_factory.mktemp("secured-stack"),
                        jar_cache=REPO_ROOT / "run", broker_port=free_port_run(2),
                        worker_port=free_port(), gateway_port=free_port(), payment_sim_port=free_port(),
                        mail_sink_port=free_port_run(2),
                        prometheus_port=free_port(), alertmanager_port=free_port(),
                        trace_sink_port=free_port(), prometheus_scrape_interval_s=1.0, log_format="json")
    stack = DevStack(settings, workers=1, fresh=True, echo=lambda _line: None, observe=True, alert_scale=0.05)
    try:
        stack.start()
        authorize(stack.gateway_url, stack.token("service", "operator", subject="tests"), stack.ca_file)
        yield stack
    finally:
        stack.stop()


def test_an_order_is_confirmed_on_the_secured_stack(secured_stack: DevStack) -> None:
    assert secured_stack.kafka_secured
    assert secured_stack.settings.kafka.username == OPERATOR
    product = f"p-{uuid.uuid4().hex[:6]}"
    seed_stock(secured_stack, product, 5, price=4.0)
    order_id = place(secured_stack, [{"productId": product, "quantity": 2}], customer=new_customer(secured_stack))
    assert await_status(secured_stack, order_id, "confirmed")["totalAmount"] == 8.0
    # nothing runs as a super user: the worker and the gateway logged in as themselves
    logs = {name: (secured_stack.log_dir / f"{name}.log").read_text() for name in ("worker-0", "gateway")}
    assert all("AUTHORIZATION_FAILED" not in text for text in logs.values())


def _prometheus(stack: DevStack, path: str, **query: str) -> list[dict[str, object]]:
    url = f"{stack.prometheus_url}/api/v1/{path}?{urllib.parse.urlencode(query)}"
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - the stack's own loopback Prometheus
        body = json.load(answer)
    assert body["status"] == "success", body
    data = body["data"]
    return data["alerts"] if path == "alerts" else data["result"]


def _until(what: str, probe: object, timeout_s: float = 60.0) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()  # type: ignore[operator]
        if found:
            return found
        assert time.monotonic() < deadline, f"Prometheus never showed {what}"
        time.sleep(0.5)


def _answers(stack: DevStack, query: str) -> list[float]:
    return [float(r["value"][1]) for r in _prometheus(stack, "query", query=query)]  # type: ignore[index]


def test_every_dashboard_panel_answers_against_the_live_stack(secured_stack: DevStack) -> None:
    """What Grafana would show: each panel query of the shipped dashboard, run by
    the real Prometheus scraping the stack under a little load, has a value."""
    stack = secured_stack
    # the load must come after Prometheus' first scrapes, or every series starts at its final value
    _until("every target scraped", lambda: _prometheus(stack, "query", query="count(up == 1) == 3"))
    product = f"p-{uuid.uuid4().hex[:6]}"
    seed_stock(stack, product, 6, price=2.0)
    customer = new_customer(stack)
    placed = [place(stack, [{"productId": product, "quantity": 2}], customer=customer) for _ in range(3)]
    outcomes = [await_status(stack, order_id, "confirmed", "rejected")["status"] for order_id in placed]
    # only once those are decided: orders land on different partitions, so one placed later may reserve first
    late = place(stack, [{"productId": product, "quantity": 5}], customer=customer)  # more than is left
    outcomes.append(await_status(stack, late, "confirmed", "rejected")["status"])
    assert outcomes == ["confirmed"] * 3 + ["rejected"]
    # A labelled histogram's series exist from their first observation: had every payment call fallen
    # between two scrapes, its rate would never rise. One more paid order once the series are scraped.
    _until("the payment calls' series scraped", lambda: _prometheus(
        stack, "query", query="count(orderflow_payment_provider_call_seconds_bucket) > 0"))
    another = f"p-{uuid.uuid4().hex[:6]}"
    seed_stock(stack, another, 2, price=2.0)
    await_status(stack, place(stack, [{"productId": another, "quantity": 1}], customer=customer), "confirmed")

    # a rate needs two scrapes after the load, a gauge its worker's next timer round
    silent, answered = set(dashboard_queries()), {}
    deadline = time.monotonic() + 45
    while silent and time.monotonic() < deadline:
        for title, query in sorted(silent):
            values = _answers(stack, query)
            if any(math.isfinite(v) for v in values):
                answered[title, query] = values
                silent.discard((title, query))
        time.sleep(0.5)
    for (title, query), values in answered.items():
        print(f"{title}: {len(values)} series, e.g. {[round(v, 4) for v in values[:3]]}  <- {query}")
    assert sorted(silent) == []
    # the first rejection shows in the rate too: every status' series starts at 0
    outcome_rates = 'sum by (status) (rate(orderflow_order_status_seconds_count{status=~"confirmed|rejected"}[1m])) > 0'
    assert _until("a rate of confirmed and of rejected orders",
                  lambda: rates if len(rates := _answers(stack, outcome_rates)) == 2 else [])


def _spans(stack: DevStack, trace_id: str) -> list[dict[str, object]]:
    try:
        with urllib.request.urlopen(f"{stack.trace_sink_url}/traces/{trace_id}", timeout=5) as answer:  # noqa: S310
            return json.load(answer)["spans"]  # type: ignore[no-any-return]
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return []
        raise


# one span per step of a 1-line order's saga, from the gateway to the capture
SAGA_SPANS = {"POST /api/v1/orders", "process_orders PlaceOrder", "manage_customers CheckCustomer",
              "process_orders CustomerCheckResult", "manage_stock ReserveLine", "process_orders LineResult",
              "process_payments RequestPayment", "payment authorize", "payment capture",
              "process_orders PaymentCompleted", "manage_stock SellLine"}


def test_one_order_is_one_trace_across_the_gateway_and_every_agent(secured_stack: DevStack) -> None:
    stack = secured_stack
    product = f"p-{uuid.uuid4().hex[:6]}"
    seed_stock(stack, product, 5, price=3.0)
    customer = new_customer(stack)
    trace_id, caller_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    reply = post_json(f"{stack.gateway_url}/api/v1/orders",
                      {"customerId": customer, "items": [{"productId": product, "quantity": 1}],
                       "paymentMethodId": "pm_visa"},
                      {"traceparent": f"00-{trace_id}-{caller_span}-01", "X-Request-ID": "e2e-trace-1"})
    assert reply.status == 202, reply.body
    headers = {name.lower(): value for name, value in reply.headers.items()}
    assert headers["traceparent"].split("-")[1] == trace_id  # the caller's trace, continued
    assert headers["x-request-id"] == "e2e-trace-1"
    order_id = reply.json()["orderId"]
    await_status(stack, order_id, "confirmed")

    def whole_saga() -> list[dict[str, object]]:
        found = _spans(stack, trace_id)
        return found if {span["name"] for span in found} >= SAGA_SPANS else []
    spans = _until("the saga's spans in the trace", whole_saga, timeout_s=30)
    for span in sorted(spans, key=lambda s: s["startUnixNano"]):  # type: ignore[arg-type, return-value]
        print(f'{span["service"]:<18} {span["name"]:<38} {span["durationMs"]:>8} ms  parent {span["parentSpanId"]}')
    ids = {span["spanId"] for span in spans}
    # one tree: the gateway's span is the caller's child, every other span a child of one in the trace
    assert [s["name"] for s in spans if s["parentSpanId"] == caller_span] == ["POST /api/v1/orders"]
    assert [s["name"] for s in spans if s["parentSpanId"] not in ids | {caller_span}] == []
    assert {s["service"] for s in spans} == {"orderflow-gateway", "orderflow-worker"}
    assert all(s["status"] != "error" for s in spans)

    # a request without a trace gets a new one, and a request id
    fresh = get(f"{stack.gateway_url}/api/v1/orders/{order_id}")
    fresh_headers = {name.lower(): value for name, value in fresh.headers.items()}
    assert fresh_headers["traceparent"].split("-")[1] not in ("", trace_id)
    assert len(fresh_headers["x-request-id"]) == 32

    # the JSON log lines of both processes carry the trace
    def logged(name: str) -> list[dict[str, object]]:
        entries = [json.loads(line) for line in (stack.log_dir / f"{name}.log").read_text().splitlines()
                   if line.startswith("{")]
        return [entry for entry in entries if entry.get("traceId") == trace_id]
    access = _until("the gateway's access log line", lambda: logged("gateway"), timeout_s=10)
    assert access[0]["route"] == "/api/v1/orders" and access[0]["status"] == 202 and access[0]["process"] == "gateway"
    saga = logged("worker-0")
    assert {entry.get("agent") for entry in saga} >= {"process_orders"}
    assert {entry.get("orderId") for entry in saga} == {order_id}


def test_orderflow_status_shows_the_stack_at_one_look(secured_stack: DevStack) -> None:
    stack = secured_stack
    run = subprocess.run([*orderflow_command("status", "--json")], env=stack.environment(), capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["brokers"]["reachable"] and report["brokers"]["offline"] == 0
    [member] = report["group"]["members"]  # the one worker, with every partition of its topics
    assert member["partitions"] > 0 and report["group"]["state"] == "stable"
    assert [w["ready"] for w in report["workers"]] == [True]
    assert "orders.commands" in report["lag"] and report["deadLetters"] >= 0
    assert report["orders"]["open"].keys() == {"confirmed", "pending", "pending_payment", "shipped"}
    assert report["orders"]["open"]["confirmed"] >= 1  # the orders the tests before confirmed (none shipped)
    assert report["payments"]["answer"] == "ready" and report["payments"]["breaker"] == ["closed"]

    text = subprocess.run([*orderflow_command("status")], env=stack.environment(), capture_output=True, text=True,
                          timeout=60).stdout
    print(text)
    assert text.startswith("brokers       1 up") and "worker        https://" in text


def test_prometheus_scrapes_the_stack_and_fires_worker_down(secured_stack: DevStack) -> None:
    stack = secured_stack
    product = f"p-{uuid.uuid4().hex[:6]}"
    seed_stock(stack, product, 5, price=1.0)
    await_status(stack, place(stack, [{"productId": product, "quantity": 1}], customer=new_customer(stack)),
                 "confirmed")
    # every process of the stack is scraped, over HTTPS with the local CA
    up = _until("every target up", lambda: [r for r in _prometheus(stack, "query", query="up == 1")]
                if len(_prometheus(stack, "query", query="up == 1")) == 3 else [])
    assert {r["metric"]["job"] for r in up} == {"orderflow-worker", "orderflow-gateway",  # type: ignore[index]
                                                "orderflow-payment-provider"}
    handled = _until("the saga's handling times", lambda: _prometheus(
        stack, "query", query='sum by (agent) (orderflow_agent_handling_seconds_count{agent="process_orders"}) > 0'))
    assert handled
    assert _until("the worker ready and the broker reachable", lambda: _prometheus(
        stack, "query", query='orderflow_ready{job="orderflow-worker"} == 1 and orderflow_broker_reachable == 1'))
    assert not [a for a in _prometheus(stack, "alerts") if a["labels"]["alertname"] == "OrderflowWorkerDown"]  # type: ignore[index]

    stack.kill_worker(0)
    firing = _until("OrderflowWorkerDown firing", lambda: [
        a for a in _prometheus(stack, "alerts")
        if a["labels"]["alertname"] == "OrderflowWorkerDown" and a["state"] == "firing"])  # type: ignore[index]
    assert firing[0]["labels"]["instance"] == urllib.parse.urlsplit(stack.worker_url(0)).netloc  # type: ignore[index]
    # and Prometheus hands it to the stack's Alertmanager
    with_alertmanager = _until("the alert in Alertmanager", lambda: [
        a for a in json.load(urllib.request.urlopen(f"{stack.alertmanager_url}/api/v2/alerts", timeout=5))  # noqa: S310
        if a["labels"]["alertname"] == "OrderflowWorkerDown"])
    assert with_alertmanager[0]["status"]["state"] == "active"
