"""The invariant checker: after a run, reads the public HTTP API and the output
topics (never the workers' internals) and counts what went wrong.

Checks: every order exists and has settled (lost, stuck); stock is conserved
per product and never oversold; nobody is charged twice and every captured
payment of an undone order is refunded once; orders.events holds a gap-free,
legal sequence per order (a re-sent eventId is fine, a second different event
for one transition is not); exactly one notification per customer-facing
transition.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from support.http import get

from orderflow.agents.routing import ROUTED_HEADER
from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec
from orderflow.stack import DevStack
from orderflow.tables.order_status import CUSTOMER_FACING, ORDER_TRANSITIONS, is_legal

__all__ = ["Report", "check", "read_topic"]

SETTLED = frozenset({"confirmed", "rejected", "payment_failed", "cancelled", "shipped", "delivered"})
UNDONE = frozenset({"rejected", "payment_failed", "cancelled"})
CODEC = Codec()


@dataclass
class Report:
    sent: int = 0
    checked: int = 0
    lost: int = 0
    stuck: int = 0
    oversold: int = 0
    doubled: int = 0  # double charges, duplicate transitions, duplicate notifications
    stock_mismatches: int = 0
    illegal_sequences: int = 0
    resent_events: int = 0  # same eventId again: allowed, reported
    statuses: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # as read, by orderId
    initial_stock: dict[str, int] = field(default_factory=dict)

    def ok(self) -> bool:
        return not (self.lost or self.stuck or self.oversold or self.doubled or self.stock_mismatches
                    or self.illegal_sequences)

    def figures(self) -> str:
        return (f"orders sent={self.sent} checked={self.checked} lost={self.lost} doubled={self.doubled} "
                f"oversold={self.oversold} stuck={self.stuck} stock_mismatches={self.stock_mismatches} "
                f"illegal_sequences={self.illegal_sequences} resent_events={self.resent_events} "
                f"statuses={dict(self.statuses)}")

    def problem(self, text: str) -> None:
        if len(self.problems) < 30:
            self.problems.append(text)


def read_topic(bootstrap: str, spec: catalog.TopicSpec) -> list[tuple[str, dict[str, Any]]]:
    """Every (key, record) of a topic up to its end, in order within each partition."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "invariants", "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(spec.name, timeout=10).topics[spec.name].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(spec.name, p), timeout=10)[1] for p in partitions}
        left = {p for p, end in ends.items() if end > 0}
        # Every partition in one assignment: one fetch session, not one per partition.
        consumer.assign([TopicPartition(spec.name, p, 0) for p in left])
        found: list[tuple[str, dict[str, Any]]] = []
        while left:
            message = consumer.poll(5)
            if message is None or message.error() is not None:
                continue
            partition, offset = message.partition(), message.offset()
            if offset < ends[partition]:
                found.append((message.key().decode(), CODEC.decode(message.value()).record))
            if offset + 1 >= ends[partition]:
                left.discard(partition)
        return found
    finally:
        consumer.close()


def _orders(stack: DevStack, order_ids: list[str], report: Report) -> dict[str, dict[str, Any]]:
    orders = {}
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = pool.map(lambda order_id: get(f"{stack.gateway_url}/api/v1/orders/{order_id}"), order_ids)
    for order_id, reply in zip(order_ids, replies):
        if reply.status != 200:
            report.lost += 1
            report.problem(f"lost: {order_id} answers {reply.status}")
            continue
        order = reply.json()
        report.checked += 1
        report.statuses[order["status"]] += 1
        if order["status"] not in SETTLED:
            report.stuck += 1
            report.problem(f"stuck: {order_id} is {order['status']}")
        orders[order_id] = order
    return orders


def _stock(stack: DevStack, orders: dict[str, dict[str, Any]], initial: dict[str, int], report: Report) -> None:
    sold: Counter = Counter()
    held: Counter = Counter()
    for order in orders.values():
        for line in order["items"]:
            if line["status"] == "sold":
                sold[line["productId"]] += line["quantity"]
            elif line["status"] == "reserved":
                held[line["productId"]] += line["quantity"]
    for product, start in initial.items():
        inv = get(f"{stack.gateway_url}/api/v1/inventory/{product}").json()
        if inv["onHand"] < 0 or inv["available"] < 0:
            report.oversold += 1
            report.problem(f"oversold: {inv}")
        if (inv["onHand"], inv["reserved"]) != (start - sold[product], held[product]):
            report.stock_mismatches += 1
            holders = [(o["orderId"], o["status"], [(i["productId"], i["status"]) for i in o["items"]])
                       for o in orders.values()
                       if any(i["productId"] == product and i["status"] == "reserved" for i in o["items"])]
            report.problem(f"stock of {product}: {inv}, expected onHand={start - sold[product]} "
                           f"reserved={held[product]}; orders holding it: {holders[:3]}; "
                           f"each worker's own copy: {_local_copies(stack, f'/inventory/{product}')}; "
                           f"of the first holder: {_local_copies(stack, f'/orders/{holders[0][0]}') if holders else []}")


def _local_copies(stack: DevStack, path: str) -> list[str]:
    """What each worker answers from its own tables, unrouted (to tell a stale copy from a wrong row)."""
    copies = []
    for index in range(stack.workers):
        reply = get(f"{stack.worker_url(index)}{path}", headers={ROUTED_HEADER: "1"})
        body = reply.json() if reply.status == 200 else {}
        seen = {k: body[k] for k in ("onHand", "reserved", "status", "revision") if k in body}
        if "items" in body:
            seen["lines"] = [line["status"] for line in body["items"]]
        copies.append(f"worker-{index}: {reply.status} {seen}")
    return copies


def _payments(stack: DevStack, orders: dict[str, dict[str, Any]], report: Report) -> None:
    by_order: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for payment in get(f"{stack.payment_simulator_url}/_sim/ledger").json()["payments"]:
        by_order[payment["orderId"]].append(payment)
    for order_id, order in orders.items():
        captured = [p for p in by_order.get(order_id, []) if p["captures"]]
        if len(captured) > 1:
            report.doubled += 1
            report.problem(f"charged twice: {order_id} {captured}")
        if order["status"] in ("confirmed", "shipped", "delivered") and len(captured) != 1:
            report.doubled += 1 if captured else 0
            report.problem(f"paid order without exactly one capture: {order_id}")
        if order["status"] in UNDONE and captured and captured[0]["refunds"] != 1 \
                and order["paymentStatus"] != "refunded":
            report.problem(f"captured payment of {order['status']} order {order_id} not refunded")
            report.doubled += 1


def _events(stack: DevStack, orders: dict[str, dict[str, Any]], report: Report) -> None:
    seen: dict[str, dict[str, Any]] = {}
    by_order: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for key, event in read_topic(stack.settings.kafka_servers, catalog.ORDER_EVENTS):
        if event["eventId"] in seen:
            report.resent_events += 1
            continue
        seen[event["eventId"]] = event
        if event["eventType"] != "OrderCancelled":
            by_order[key].append(event)
    for order_id, order in orders.items():
        events = by_order.get(order_id, [])
        if not events or events[0]["eventType"] != "OrderCreated":
            report.illegal_sequences += 1
            report.problem(f"events of {order_id} do not start with OrderCreated")
            continue
        status = events[0]["data"]["status"]
        for event in events[1:]:
            data = event["data"]
            if data["previousStatus"] != status or not is_legal(ORDER_TRANSITIONS, status, data["newStatus"]):
                report.illegal_sequences += 1
                report.problem(f"events of {order_id}: {status} then {data['previousStatus']}->{data['newStatus']}")
            status = data["newStatus"]
        if status != order["status"]:
            report.illegal_sequences += 1
            report.problem(f"events of {order_id} end at {status}, the order is {order['status']}")


def _notifications(stack: DevStack, orders: dict[str, dict[str, Any]], report: Report) -> None:
    per_transition: dict[tuple[str, str], set[str]] = defaultdict(set)
    for _, note in read_topic(stack.settings.kafka_servers, catalog.NOTIFICATIONS):
        per_transition[(note["fields"]["orderId"], note["fields"]["status"])].add(note["notificationId"])
    for order_id, order in orders.items():
        for change in order["statusHistory"]:
            if change["status"] in CUSTOMER_FACING:
                count = len(per_transition.get((order_id, change["status"]), ()))
                if count != 1:
                    report.doubled += 1 if count > 1 else 0
                    report.lost += 1 if count == 0 else 0
                    report.problem(f"{count} notifications for {order_id} {change['status']}")


def check(stack: DevStack, order_ids: list[str], initial_stock: dict[str, int]) -> Report:
    report = Report(sent=len(order_ids), initial_stock=dict(initial_stock))
    orders = report.orders = _orders(stack, order_ids, report)
    _stock(stack, orders, initial_stock, report)
    _payments(stack, orders, report)
    _events(stack, orders, report)
    _notifications(stack, orders, report)
    return report
