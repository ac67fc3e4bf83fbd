"""A tiny run of `orderflow bench` against the session's stack, so the harness
keeps working: it sends, sees every order's outcome, and writes its JSON,
markdown and PNG. No figure is asserted: speed is not tested here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from orderflow.cli import main
from orderflow.stack import DevStack

pytestmark = pytest.mark.e2e

PERCENTILES = ("p50", "p90", "p99", "p99.9", "max")


def trusting(stack: DevStack) -> dict[str, str]:
    """The bench checks the stack's certificate against its CA (ORDERFLOW_TLS_CA_FILE), as a user would."""
    return {"ORDERFLOW_TLS_CA_FILE": str(stack.ca_file)} if stack.ca_file else {}


def run_bench(stack: DevStack, out: Path, *args: str) -> dict:
    result = CliRunner().invoke(main, [
        "bench", "--bootstrap", stack.settings.kafka_servers, "--gateway", stack.gateway_url,
        "--token", stack.token("service", "operator", subject="bench"), "--app-id", stack.settings.app_id,
        "--products", "30", "--customers", "8", "--drain-timeout", "60",
        "--out", str(out), *args], catch_exceptions=False, env=trusting(stack))
    assert result.exit_code == 0, result.output
    assert (out / "summary.md").read_text().startswith("# orderflow bench")
    assert (out / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return json.loads((out / "result.json").read_text())


def test_a_short_kafka_run_sees_the_outcome_of_every_order(stack: DevStack, tmp_path: Path) -> None:
    report = run_bench(stack, tmp_path, "--ingress", "kafka", "--rate", "20", "--duration", "3",
                       "--decline-share", "0.2", "--cancel-share", "0.2", "--price-rate", "5")
    step = report["result"]
    assert step["sent"] == 60
    assert step["completed"] == step["sent"]
    assert set(PERCENTILES) <= set(step["latency_ms"])
    assert step["outcomes"].get("payment_failed", 0) > 0
    assert step["prices_sent"] == 15
    assert step["series"] and step["cpu"]["cpu_s"]["bench"] >= 0
    # every record the bench put on the ingress topics is counted (the session's stack is shared,
    # so another test's stragglers may add some), and the stack consumed all of them
    records = step["records"]
    assert records["produced"]["orders.commands"] >= 60 + step["cancels_sent"]
    assert records["produced"]["prices"] >= 15
    for topic in ("orders.commands", "prices"):
        assert records["consumed"][topic] == records["produced"][topic]
    assert records["per_order"]["consumed"] > 1 and "bench" in step["cpu_ms_per_order"]


def test_a_short_http_run_also_times_the_gateway(stack: DevStack, tmp_path: Path) -> None:
    report = run_bench(stack, tmp_path, "--ingress", "http", "--rate", "10", "--duration", "2")
    step = report["result"]
    assert step["completed"] == step["sent"] == 20
    assert set(PERCENTILES) <= set(step["latency_ms"])
    assert step["http_ms"]["count"] == 20 and not step["http_errors"]


def test_the_ceilings_write_to_the_given_broker_and_each_python_reader_reads_it_all(
    bootstrap_servers: str, tmp_path: Path
) -> None:
    from confluent_kafka import Consumer, TopicPartition

    from orderflow.bench.ceilings import measure_ceilings
    from orderflow.schemas import catalog
    from orderflow.settings import Settings

    settings = Settings(jar_cache=Path(__file__).resolve().parents[2] / "run", partitions=3)
    figures = measure_ceilings(settings, bootstrap_servers, tmp_path, messages=2000, echo=lambda _line: None)
    names = [row["name"] for row in figures["rows"]]
    assert len(names) == 5 and any("Faust" in n for n in names) and any("ProducerPerformance" in n for n in names)
    assert all(row["events_per_s"] > 0 for row in figures["rows"])
    # the records are on the broker the ceilings were given, and the loops that count read every one
    probe = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": "ceilings-probe"})
    try:
        topic = catalog.BENCH_EVENTS.name
        ends = [probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(3)]
    finally:
        probe.close()
    assert sum(ends) == 2000
    assert [row["messages"] for row in figures["rows"] if "messages" in row] == [2000, 2000, 2000]


def test_the_read_load_reads_placed_orders(stack: DevStack, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, [
        "bench", "reads", "--bootstrap", stack.settings.kafka_servers, "--gateway", stack.gateway_url,
        "--token", stack.token("service", "operator", subject="bench"), "--app-id", stack.settings.app_id,
        "--rate", "50", "--duration", "2", "--orders", "10",
        "--out", str(tmp_path)], catch_exceptions=False, env=trusting(stack))
    assert result.exit_code == 0, result.output
    figures = json.loads((tmp_path / "reads.json").read_text())
    assert figures["sent"] == 100 and figures["statuses"] == {"200": 100}
    assert set(PERCENTILES) <= set(figures["latency_ms"])
