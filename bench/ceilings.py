"""The ceilings: what the broker and the client libraries reach on this
machine, with records of the pipeline's size, so the pipeline's figures can be
read against them.

Consumes a broker (a fresh LocalKafka unless one is given) and the Kafka jars;
creates ``catalog.BENCH_EVENTS`` and fills it with Kafka's ProducerPerformance
(records of one encoded PlaceOrder's size), then reads the same records back
with ConsumerPerformance, a raw confluent-kafka loop, a raw aiokafka loop and a
do-nothing Faust agent (``noop_agent``, its own process). Produces a dict of
events per second per measurement.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec
from orderflow.settings import Settings

__all__ = ["ceilings_markdown", "fresh_broker", "measure_ceilings", "order_record_size", "with_ratios"]

TOOL_TIMEOUT_S = 300.0
SAMPLE_ORDER = {"orderId": "ord_0123456789abcdef0123456789abcdef", "customerId": "cust_0123456789abcdef0123",
                "items": [{"productId": f"prod_{i:06d}", "quantity": 2} for i in range(3)],
                "paymentMethodId": "pm_bench_visa", "placedAt": 1_700_000_000_000}


def order_record_size() -> int:
    """Bytes of a typical encoded PlaceOrder (3 lines), the pipeline's ingress record."""
    return len(Codec().encode(f"{catalog.NAMESPACE}.PlaceOrder", SAMPLE_ORDER))


@contextmanager
def fresh_broker(settings: Settings, run_dir: Path, bootstrap: str | None = None, echo=print) -> Iterator[str]:
    if bootstrap:
        yield bootstrap
        return
    from orderflow.broker import LocalKafka, ensure_jars

    shutil.rmtree(run_dir / "kafka", ignore_errors=True)
    kafka = LocalKafka(run_dir / "kafka", nodes=1, port=0, heap=settings.broker_heap,
                       lib_dir=ensure_jars(settings.jar_cache))
    echo(f"starting Kafka {kafka.version} ...")
    kafka.start(fresh=True)
    try:
        yield kafka.bootstrap_servers
    finally:
        kafka.stop()
        shutil.rmtree(run_dir / "kafka", ignore_errors=True)


def _create_topic(servers: str, partitions: int) -> None:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": servers})
    name = catalog.BENCH_EVENTS.name
    if name in admin.list_topics(timeout=30).topics:
        futures = admin.delete_topics([name], operation_timeout=30)
        futures[name].result()
        time.sleep(2)  # topic deletion completes asynchronously on the broker
    for _ in range(20):
        try:
            admin.create_topics([NewTopic(name, partitions, 1)], operation_timeout=30)[name].result()
            return
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise
            time.sleep(0.5)  # still being deleted


def _java(settings: Settings, main_class: str, *args: str) -> str:
    from orderflow.broker import ensure_jars
    from orderflow.broker.runtime import java_executable

    lib = ensure_jars(settings.jar_cache)
    cmd = [java_executable(), "-Xmx512m", "-Dlog4j2.level=WARN", "-cp", str(lib / "*"), main_class, *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"{main_class} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.stdout


def producer_performance(settings: Settings, servers: str, messages: int, size: int) -> dict[str, Any]:
    out = _java(settings, "org.apache.kafka.tools.ProducerPerformance", "--topic", catalog.BENCH_EVENTS.name,
                "--num-records", str(messages), "--record-size", str(size), "--throughput", "-1",
                "--producer-props", f"bootstrap.servers={servers}", "acks=all", "linger.ms=5")
    final = [line for line in out.splitlines() if "records sent" in line][-1]
    found = re.search(r"([\d.]+) records/sec", final)
    if found is None:
        raise RuntimeError(f"ProducerPerformance printed no rate: {final.strip()}")
    rate = float(found.group(1))
    p99 = re.search(r"([\d.]+) ms 99th", final)
    return {"name": "Kafka ProducerPerformance (acks=all)", "events_per_s": rate, "detail": final.strip(),
            "p99_ms": float(p99.group(1)) if p99 else None}


def consumer_performance(settings: Settings, servers: str, messages: int) -> dict[str, Any]:
    out = _java(settings, "org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server", servers,
                "--topic", catalog.BENCH_EVENTS.name, "--messages", str(messages),
                "--group", f"bench-cp-{uuid.uuid4().hex[:6]}", "--timeout", "60000")
    lines = [line for line in out.splitlines() if line.strip()]
    header = [h.strip() for h in lines[-2].split(",")]
    values = dict(zip(header, (v.strip() for v in lines[-1].split(",")), strict=False))
    return {"name": "Kafka ConsumerPerformance", "events_per_s": float(values["fetch.nMsg.sec"]),
            "detail": values}


def confluent_loop(servers: str, messages: int, partitions: int) -> dict[str, Any]:
    """Assigned (no group join) at the beginning of every partition; timed from the assignment,
    so librdkafka's prefetching cannot flatter it."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": servers, "group.id": f"bench-ck-{uuid.uuid4().hex[:6]}",
                         "enable.auto.commit": False})
    count = 0
    began = time.monotonic()
    consumer.assign([TopicPartition(catalog.BENCH_EVENTS.name, p, OFFSET_BEGINNING) for p in range(partitions)])
    deadline = began + TOOL_TIMEOUT_S
    try:
        while count < messages and time.monotonic() < deadline:
            count += sum(1 for m in consumer.consume(1000, 1.0) if not m.error())
        seconds = time.monotonic() - began
    finally:
        consumer.close()
    return {"name": "raw confluent-kafka consume loop", "events_per_s": count / seconds, "messages": count}


async def _aiokafka_loop(servers: str, messages: int, partitions: int) -> dict[str, Any]:
    """Like ``confluent_loop``: assigned at the beginning, timed from the assignment."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
    await consumer.start()
    count = 0
    try:
        began = time.monotonic()
        tps = [TopicPartition(catalog.BENCH_EVENTS.name, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        deadline = began + TOOL_TIMEOUT_S
        while count < messages and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            count += sum(len(records) for records in batches.values())
        seconds = time.monotonic() - began
    finally:
        await consumer.stop()
    return {"name": "raw aiokafka consume loop", "events_per_s": count / seconds, "messages": count}


def faust_noop(servers: str, messages: int, out: Path) -> dict[str, Any]:
    from orderflow.processes import Child

    result = out / "faust-noop.json"
    result.unlink(missing_ok=True)
    child = Child("faust-noop", [sys.executable, "-P", "-m", "orderflow.bench.noop_agent", servers,
                                 str(messages), str(result)], dict(os.environ), out / "faust-noop.log")
    deadline = time.monotonic() + TOOL_TIMEOUT_S
    try:
        while not result.exists() and time.monotonic() < deadline:
            if not child.alive():
                raise RuntimeError(f"the Faust agent exited:\n{child.tail()}")
            time.sleep(0.2)  # polling for the child's result file
        figures = json.loads(result.read_text())
    finally:
        child.stop()
    return {"name": "do-nothing Faust agent", **figures}


def measure_ceilings(settings: Settings, servers: str, out: Path, messages: int = 200_000,
                     echo=print) -> dict[str, Any]:
    size = order_record_size()
    _create_topic(servers, settings.partitions)
    rows = []
    echo(f"ceilings: {messages} records of {size} bytes on {settings.partitions} partitions")
    rows.append(producer_performance(settings, servers, messages, size))
    rows.append(consumer_performance(settings, servers, messages))
    rows.append(confluent_loop(servers, messages, settings.partitions))
    rows.append(asyncio.run(_aiokafka_loop(servers, messages, settings.partitions)))
    rows.append(faust_noop(servers, messages, out))
    for row in rows:
        echo(f"  {row['name']}: {row['events_per_s']:,.0f} events/s")
    return {"messages": messages, "record_bytes": size, "partitions": settings.partitions, "rows": rows}


def with_ratios(figures: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """Adds to each row how many times the pipeline's completed orders/s the ceiling is."""
    pipeline = result["result"]["completed_per_s"]
    for row in figures["rows"]:
        row["ratio"] = f"{row['events_per_s'] / pipeline:,.0f}x" if pipeline else "-"
    figures["pipeline_completed_per_s"] = pipeline
    return figures


def ceilings_markdown(figures: dict[str, Any]) -> str:
    lines = [f"Ceilings: {figures['messages']:,} records of {figures['record_bytes']} bytes, "
             f"{figures['partitions']} partitions, one broker on this machine.", "",
             "| measurement | events/s |", "|---|---:|"]
    lines += [f"| {row['name']} | {row['events_per_s']:,.0f} |" for row in figures["rows"]]
    return "\n".join(lines) + "\n"
