"""``orderflow status``: the operator's one look, from Kafka and the workers.

Asks Kafka (one admin client: metadata, the consumer group, its committed
and the end offsets, the dead-letter topic's offsets) and every worker in
``ORDERFLOW_WORKER_URLS`` (/readyz and /metrics), and the payment provider
(/readyz). Produces a report (a dict, printed as text or ``--json``): brokers
and partitions' health, the group's members with their partitions, each
worker's readiness, lag per topic, dead letters waiting, orders by open
status with the oldest, and the payment provider with the breaker state.
Owns nothing; reads only.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterable
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec
from prometheus_client.parser import text_string_to_metric_families

from orderflow.certs import client_context, local_ca
from orderflow.kafka_client import as_client
from orderflow.schemas import catalog
from orderflow.settings import Settings

__all__ = ["beside_dev", "gather", "healthy", "render"]

DEFAULTS = Settings.model_fields


def beside_dev(settings: Settings) -> Settings:
    """Run from a shell beside ``orderflow dev`` with its defaults: trust its local CA,
    and reach its workers and payment simulator over the https they serve."""
    ca = local_ca(settings.run_dir) if settings.local_tls and settings.tls_ca_file is None else None
    if ca is None:
        return settings
    update: dict[str, Any] = {"tls_ca_file": ca}
    for field in ("worker_urls", "payment_provider_url"):
        value = getattr(settings, field)
        if value == DEFAULTS[field].default and value.startswith("http://"):
            update[field] = "https://" + value.removeprefix("http://")
    return settings.model_copy(update=update)


def gather(settings: Settings, timeout_s: float = 10.0) -> dict[str, Any]:
    admin = AdminClient(as_client(settings.kafka).config())
    tls = client_context(settings.tls_ca_file)
    kafka = _kafka(admin, settings.app_id, timeout_s)
    workers = [_worker(url, tls, timeout_s) for url in settings.worker_url_list]
    return {**kafka, "workers": workers, "orders": _orders(workers),
            "payments": _payments(settings.payment_provider_url, workers, tls, timeout_s)}


def _kafka(admin: AdminClient, group: str, timeout_s: float) -> dict[str, Any]:
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except Exception as exc:  # noqa: BLE001 - the broker is away: that is the report
        return {"brokers": {"reachable": False, "error": str(exc)}}
    partitions = [p for name, t in metadata.topics.items() if not name.startswith("__") for p in t.partitions.values()]
    report: dict[str, Any] = {"brokers": {
        "reachable": True, "controller": metadata.controller_id,
        "nodes": sorted(f"{b.id}={b.host}:{b.port}" for b in metadata.brokers.values()),
        "partitions": len(partitions),
        "offline": sum(1 for p in partitions if p.leader < 0),
        "underReplicated": sum(1 for p in partitions if len(p.isrs) < len(p.replicas)),
    }}
    report["group"] = _group(admin, group, timeout_s)
    report["lag"] = _lag(admin, group, timeout_s)
    dead = metadata.topics.get(catalog.DEAD_LETTERS.name)
    report["deadLetters"] = (_held(admin, catalog.DEAD_LETTERS.name, dead.partitions, timeout_s)
                             if dead is not None else None)
    return report


def _group(admin: AdminClient, group: str, timeout_s: float) -> dict[str, Any]:
    described = admin.describe_consumer_groups([group], request_timeout=timeout_s)[group].result()
    members = []
    for member in described.members:
        assigned = member.assignment.topic_partitions if member.assignment else []
        members.append({"clientId": member.client_id, "host": member.host,
                        "partitions": len(assigned), "topics": len({tp.topic for tp in assigned})})
    return {"id": group, "state": str(described.state).rsplit(".", 1)[-1].lower(), "members": members}


def _ends(admin: AdminClient, partitions: Iterable[TopicPartition], spec: OffsetSpec,
          timeout_s: float) -> dict[tuple[str, int], int]:
    request = {TopicPartition(tp.topic, tp.partition): spec for tp in partitions}
    if not request:
        return {}
    answers = admin.list_offsets(request, request_timeout=timeout_s)
    return {(tp.topic, tp.partition): future.result().offset for tp, future in answers.items()}


def _lag(admin: AdminClient, group: str, timeout_s: float) -> dict[str, int]:
    """Records past the group's commits, per topic."""
    answer = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)], request_timeout=timeout_s)
    committed = [tp for tp in answer[group].result().topic_partitions if tp.offset >= 0]
    ends = _ends(admin, committed, OffsetSpec.latest(), timeout_s)
    lag: dict[str, int] = {}
    for tp in committed:
        lag[tp.topic] = lag.get(tp.topic, 0) + max(0, ends[tp.topic, tp.partition] - tp.offset)
    return dict(sorted(lag.items()))


def _held(admin: AdminClient, topic: str, partitions: Iterable[int], timeout_s: float) -> int:
    tps = [TopicPartition(topic, p) for p in partitions]
    first = _ends(admin, tps, OffsetSpec.earliest(), timeout_s)
    last = _ends(admin, tps, OffsetSpec.latest(), timeout_s)
    return sum(last[key] - first[key] for key in last)


def _get(url: str, tls: ssl.SSLContext, timeout_s: float) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s, context=tls) as answer:  # noqa: S310 - configured URLs
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _worker(url: str, tls: ssl.SSLContext, timeout_s: float) -> dict[str, Any]:
    try:
        code, body = _get(f"{url}/readyz", tls, timeout_s)
        _, metrics = _get(f"{url}/metrics", tls, timeout_s)
    except (OSError, ValueError) as exc:
        return {"url": url, "reachable": False, "ready": False, "status": str(exc)}
    readiness = json.loads(body) if body.startswith(b"{") else {}
    samples = [(s.name, s.labels, s.value) for family in text_string_to_metric_families(metrics.decode())
               for s in family.samples]
    return {"url": url, "reachable": True, "ready": code == 200, "status": readiness.get("status", str(code)),
            "open": {labels["status"]: int(value) for name, labels, value in samples
                     if name == "orderflow_orders_open"},
            "oldest": {labels["status"]: value for name, labels, value in samples
                       if name == "orderflow_oldest_open_order_age_seconds"},
            "breaker": next((labels["state"] for name, labels, value in samples
                             if name == "orderflow_payment_provider_breaker_state" and value == 1), None)}


def _orders(workers: list[dict[str, Any]]) -> dict[str, Any]:
    """Open orders by status over the workers that answered, and the oldest of each."""
    counts: dict[str, int] = {}
    oldest: dict[str, float] = {}
    for worker in workers:
        for status, count in worker.get("open", {}).items():
            counts[status] = counts.get(status, 0) + count
        for status, age in worker.get("oldest", {}).items():
            oldest[status] = max(oldest.get(status, 0.0), age)
    return {"open": dict(sorted(counts.items())), "oldestSeconds": dict(sorted(oldest.items()))}


def _payments(url: str, workers: list[dict[str, Any]], tls: ssl.SSLContext, timeout_s: float) -> dict[str, Any]:
    try:
        code, _ = _get(f"{url.rstrip('/')}/readyz", tls, timeout_s)
        provider = "ready" if code == 200 else f"HTTP {code}"
    except (OSError, ValueError) as exc:
        provider = f"unreachable: {exc}"
    breakers = sorted({w["breaker"] for w in workers if w.get("breaker")})
    return {"provider": url, "answer": provider, "breaker": breakers}


def healthy(report: dict[str, Any]) -> bool:
    """Brokers reachable with no offline partition, and every worker ready."""
    brokers = report["brokers"]
    return bool(brokers["reachable"] and not brokers["offline"] and report["workers"]
                and all(w["ready"] for w in report["workers"]))


def render(report: dict[str, Any]) -> str:
    brokers = report["brokers"]
    if not brokers["reachable"]:
        lines = [f"brokers       UNREACHABLE: {brokers['error']}"]
    else:
        lines = [f"brokers       {len(brokers['nodes'])} up ({', '.join(brokers['nodes'])}; controller "
                 f"{brokers['controller']}): {brokers['partitions']} partitions, {brokers['offline']} offline, "
                 f"{brokers['underReplicated']} under-replicated"]
        group = report["group"]
        lines.append(f"group         {group['id']}: {group['state']}, {len(group['members'])} member(s)")
        lines += [f"  {m['clientId']} {m['host']}: {m['partitions']} partitions of {m['topics']} topics"
                  for m in group["members"]]
        lag = report["lag"]
        behind = {topic: n for topic, n in lag.items() if n}
        lines.append(f"lag           {sum(lag.values())} records"
                     + (": " + ", ".join(f"{t} {n}" for t, n in behind.items()) if behind else " (caught up)"))
        lines.append(f"dead letters  {report['deadLetters']} waiting in {catalog.DEAD_LETTERS.name}"
                     " (orderflow dlq list)")
    for worker in report["workers"]:
        lines.append(f"worker        {worker['url']}: {'ready' if worker['ready'] else 'NOT READY'} "
                     f"({worker['status']})")
    orders = report["orders"]
    lines.append("orders open   " + (", ".join(
        f"{status} {count}" + (f" (oldest {orders['oldestSeconds'][status]:.1f} s)" if count else "")
        for status, count in orders["open"].items()) or "unknown (no worker answered)"))
    payments = report["payments"]
    lines.append(f"payments      {payments['provider']}: {payments['answer']}; breaker "
                 f"{'/'.join(payments['breaker']) or 'unknown'}")
    return "\n".join(lines)
