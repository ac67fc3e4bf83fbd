"""The invariant checker: after a run, reads the public HTTP API, the payment
provider's ledger and the output topics (never the workers' internals) and
counts what went wrong.

Two halves: ``observe`` reads a run as a user would, ``judge`` is a pure
function of what was read, so the checker's own tests feed it runs with a
defect planted and see it fail.

Checks:
- every order the load was asked for was sent, exists and has settled (unsent,
  lost, stuck);
- every line of a paid order is sold, no line of an undone order is held;
  per product, on hand is the initial stock minus what paid orders bought,
  reserved is what still-pending orders hold, and nothing is oversold;
- at the provider (its ledger only): a paid order is captured exactly once,
  a captured payment of an undone order refunded exactly once, a kept order
  never refunded;
- orders.events holds a gap-free, legal sequence per order, OrderCancelled
  included (a re-sent eventId is fine, a second different event for one
  transition is not), ending at the order's status;
- notifications: exactly one per customer-facing transition on orders.events,
  none for a status the order never reached.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from orderflow.agents.routing import ROUTED_HEADER
from orderflow.kafka_client import KafkaClient, as_client
from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec
from orderflow.stack import DevStack
from orderflow.tables.order_status import CUSTOMER_FACING, IN_PROGRESS, ORDER_TRANSITIONS, PAID, UNDONE, is_legal
from support.http import get

__all__ = ["Report", "Run", "check", "judge", "observe", "read_topic"]

SETTLED = frozenset(ORDER_TRANSITIONS) - IN_PROGRESS
CODEC = Codec()
Record = dict[str, Any]


@dataclass
class Run:
    """What a run left behind, read from outside."""

    expected: int  # orders the load was asked to send
    order_ids: list[str]  # orders it sent
    orders: dict[str, Record | None]  # GET /orders/{id}; None where it is not found
    initial_stock: dict[str, int]
    inventory: dict[str, Record | None]  # GET /inventory/{product}
    ledger: Record  # the payment provider's /_sim/ledger
    order_events: list[tuple[str, Record]]  # orders.events, in partition order
    notifications: list[tuple[str, Record]]
    shipments: list[Record] | None = None  # the carrier's bookings (None: the stack ran without a carrier)
    # Each worker's own unrouted answer for a path: tells a stale copy from a wrong row.
    local_copies: Callable[[str], list[str]] = lambda _path: []


@dataclass
class Report:
    expected: int = 0
    sent: int = 0
    checked: int = 0
    unsent: int = 0  # orders the load should have sent and did not
    lost: int = 0
    stuck: int = 0
    oversold: int = 0
    doubled: int = 0  # double charges or refunds, duplicate transitions, duplicate notifications
    missing: int = 0  # effects a settled order calls for that never happened: capture, refund, notification
    spurious: int = 0  # effects nothing called for: a kept order refunded, a notification of a status never reached
    stock_mismatches: int = 0
    illegal_sequences: int = 0
    resent_events: int = 0  # same eventId again: allowed, reported
    statuses: Counter = field(default_factory=Counter)
    rejected_for: Counter = field(default_factory=Counter)  # reasons of rejected orders
    problems: list[str] = field(default_factory=list)
    orders: dict[str, Record] = field(default_factory=dict)  # as read, by orderId
    initial_stock: dict[str, int] = field(default_factory=dict)

    FAILURES = ("unsent", "lost", "stuck", "oversold", "doubled", "missing", "spurious", "stock_mismatches",
                "illegal_sequences")

    def ok(self) -> bool:
        return not any(getattr(self, name) for name in self.FAILURES)

    def figures(self) -> str:
        counts = " ".join(f"{name}={getattr(self, name)}" for name in self.FAILURES)
        return (f"orders expected={self.expected} sent={self.sent} checked={self.checked} {counts} "
                f"resent_events={self.resent_events} statuses={dict(self.statuses)} "
                f"rejected_for={dict(self.rejected_for)}")

    def problem(self, text: str) -> None:
        if len(self.problems) < 30:
            self.problems.append(text)


# ----------------------------------------------------------------------- reading a run


def read_topic(bootstrap: KafkaClient | str, spec: catalog.TopicSpec) -> list[tuple[str, Record]]:
    """Every (key, record) of a topic up to its end, in order within each partition."""
    consumer = Consumer({**as_client(bootstrap).config(), "group.id": "invariants", "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(spec.name, timeout=10).topics[spec.name].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(spec.name, p), timeout=10)[1] for p in partitions}
        left = {p for p, end in ends.items() if end > 0}
        # Every partition in one assignment: one fetch session, not one per partition.
        consumer.assign([TopicPartition(spec.name, p, 0) for p in left])
        found: list[tuple[str, Record]] = []
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


def _read_json(url: str) -> Record | None:
    reply = get(url)
    return reply.json() if reply.status == 200 else None


def observe(stack: DevStack, order_ids: list[str], initial_stock: dict[str, int], expected: int) -> Run:
    """Read a run's outcome through the gateway, the provider and the topics."""
    base = stack.gateway_url
    with ThreadPoolExecutor(max_workers=8) as pool:
        orders = dict(zip(order_ids, pool.map(lambda o: _read_json(f"{base}/api/v1/orders/{o}"), order_ids),
                          strict=True))
        inventory = dict(zip(initial_stock, pool.map(lambda p: _read_json(f"{base}/api/v1/inventory/{p}"),
                                                     initial_stock), strict=True))
    servers = stack.settings.kafka

    def local_copies(path: str) -> list[str]:
        copies = []
        for index in range(stack.workers):
            reply = get(f"{stack.worker_url(index)}{path}", headers={ROUTED_HEADER: "1"})
            body = reply.json() if reply.status == 200 else {}
            seen = {k: body[k] for k in ("onHand", "reserved", "status", "revision") if k in body}
            if "items" in body:
                seen["lines"] = [line["status"] for line in body["items"]]
            copies.append(f"worker-{index}: {reply.status} {seen}")
        return copies

    return Run(expected=expected, order_ids=list(order_ids), orders=orders, initial_stock=dict(initial_stock),
               inventory=inventory, ledger=get(f"{stack.payment_simulator_url}/_sim/ledger").json(),
               order_events=read_topic(servers, catalog.ORDER_EVENTS),
               notifications=read_topic(servers, catalog.NOTIFICATIONS), local_copies=local_copies,
               shipments=_bookings(stack, orders) if stack.carrier else None)


def _bookings(stack: DevStack, orders: dict[str, Record | None], timeout: float = 60.0) -> list[Record]:
    """The carrier's shipments, once every kept order's booking is there (or the timeout passed:
    the judge then names the orders still missing one)."""
    kept = {order_id for order_id, order in orders.items() if order is not None and order["status"] in PAID}
    deadline = time.monotonic() + timeout
    while True:
        shipments: list[Record] = get(f"{stack.carrier_url}/_sim/shipments").json()["shipments"]
        if kept <= {s["reference"] for s in shipments} or time.monotonic() > deadline:
            return shipments
        time.sleep(0.5)


def check(stack: DevStack, order_ids: list[str], initial_stock: dict[str, int], expected: int | None = None) -> Report:
    """Observe and judge a run; ``expected`` (default: as many as sent) is what the load was asked for."""
    return judge(observe(stack, order_ids, initial_stock, len(order_ids) if expected is None else expected))


# ----------------------------------------------------------------------- judging a run


def judge(run: Run) -> Report:
    report = Report(expected=run.expected, sent=len(run.order_ids), initial_stock=dict(run.initial_stock))
    if len(run.order_ids) < run.expected:
        report.unsent = run.expected - len(run.order_ids)
        report.problem(f"short stream: {len(run.order_ids)} of {run.expected} orders sent")
    orders = report.orders = _orders(run, report)
    _lines(orders, report)
    _stock(run, orders, report)
    _payments(run, orders, report)
    _shipments(run, orders, report)
    reached = _events(run, orders, report)
    _notifications(run, reached, report)
    return report


def _orders(run: Run, report: Report) -> dict[str, Record]:
    orders = {}
    for order_id in run.order_ids:
        order = run.orders.get(order_id)
        if order is None:
            report.lost += 1
            report.problem(f"lost: {order_id} is not found")
            continue
        report.checked += 1
        report.statuses[order["status"]] += 1
        if order["status"] == "rejected":
            report.rejected_for[order["statusHistory"][-1].get("reason") or "none"] += 1
        if order["status"] not in SETTLED:
            report.stuck += 1
            report.problem(f"stuck: {order_id} is {order['status']}")
        orders[order_id] = order
    return orders


def _lines(orders: dict[str, Record], report: Report) -> None:
    """A paid order sold every line; an undone one holds none (a lost ReleaseLine shows here; the saga
    marks a paid order's lines sold as it sends their SellLine, so a lost sell shows in ``_stock``)."""
    for order_id, order in orders.items():
        for index, line in enumerate(order["items"]):
            removed = line.get("removedBy") is not None  # taken out by a change: given back once paid
            if order["status"] in PAID and not removed and line["status"] != "sold":
                report.stock_mismatches += 1
                report.problem(f"line {index} of {order['status']} order {order_id} is {line['status']}, not sold")
            if order["status"] in PAID and removed and line["status"] in ("reserved", "sold"):
                report.stock_mismatches += 1
                report.problem(f"line {index} of {order_id}, removed by a change, is still {line['status']}")
            if order["status"] in UNDONE and line["status"] in ("reserved", "sold"):
                report.stock_mismatches += 1
                report.problem(f"line {index} of {order['status']} order {order_id} is still {line['status']}")


def _stock(run: Run, orders: dict[str, Record], report: Report) -> None:
    """Per product: on hand = initial - bought by paid orders; reserved = held by pending orders."""
    bought: Counter = Counter()
    held: Counter = Counter()
    for order in orders.values():
        for line in order["items"]:
            if order["status"] in PAID and line.get("removedBy") is None:
                bought[line["productId"]] += line["quantity"]
            elif order["status"] in IN_PROGRESS and line["status"] == "reserved":
                held[line["productId"]] += line["quantity"]
    for product, start in run.initial_stock.items():
        inv = run.inventory.get(product)
        if inv is None:
            report.stock_mismatches += 1
            report.problem(f"stock of {product} is not found")
            continue
        if inv["onHand"] < 0 or inv["available"] < 0 or bought[product] > start:
            report.oversold += 1
            report.problem(f"oversold: {inv}; paid orders bought {bought[product]} of {start}")
        if (inv["onHand"], inv["reserved"]) != (start - bought[product], held[product]):
            report.stock_mismatches += 1
            holders = [o["orderId"] for o in orders.values()
                       if any(i["productId"] == product and i["status"] == "reserved" for i in o["items"])]
            report.problem(f"stock of {product}: {inv}, expected onHand={start - bought[product]} "
                           f"reserved={held[product]}; orders holding it: {holders[:3]}; "
                           f"each worker's own copy: {run.local_copies(f'/inventory/{product}')}")


def _payments(run: Run, orders: dict[str, Record], report: Report) -> None:
    """Money as the provider's ledger has it; the order's own paymentStatus is not evidence."""
    by_order: dict[str, list[Record]] = defaultdict(list)
    for payment in run.ledger["payments"]:
        by_order[payment["orderId"]].append(payment)
    for order_id, order in orders.items():
        payments = by_order.get(order_id, [])
        captures = sum(p["captures"] for p in payments)
        refunds = sum(p["refunds"] for p in payments)
        if captures > 1:
            report.doubled += 1
            report.problem(f"charged {captures} times: {order_id} {payments}")
        if order["status"] in PAID:
            if captures == 0:
                report.missing += 1
                report.problem(f"{order['status']} order {order_id} was never captured: {payments}")
            if refunds:
                report.spurious += 1
                report.problem(f"{order['status']} order {order_id} was refunded: {payments}")
        elif order["status"] in UNDONE and captures:
            if refunds == 0:
                report.missing += 1
                report.problem(f"captured payment of {order['status']} order {order_id} never refunded")
            elif refunds > 1:
                report.doubled += 1
                report.problem(f"captured payment of {order['status']} order {order_id} refunded {refunds} times")


def _shipments(run: Run, orders: dict[str, Record], report: Report) -> None:
    """Parcels as the carrier has them: one per kept order, none live for an undone one."""
    if run.shipments is None:
        return
    by_order: dict[str, list[Record]] = defaultdict(list)
    for shipment in run.shipments:
        by_order[shipment["reference"]].append(shipment)
    for order_id, order in orders.items():
        parcels = by_order.get(order_id, [])
        live = [p for p in parcels if p["status"] != "cancelled"]
        if len(parcels) > 1:
            report.doubled += 1
            report.problem(f"{order_id} booked {len(parcels)} times at the carrier")
        if order["status"] in PAID and not live:
            report.missing += 1
            report.problem(f"{order['status']} order {order_id} has no parcel at the carrier: {parcels}")
        elif order["status"] in UNDONE and live:
            report.spurious += 1
            report.problem(f"{order['status']} order {order_id} has a parcel still going: {live}")


def _events(run: Run, orders: dict[str, Record], report: Report) -> dict[str, list[str]]:
    """Check each order's sequence on orders.events; returns the statuses each order reached there."""
    seen: set[str] = set()
    by_order: dict[str, list[Record]] = defaultdict(list)
    for key, event in run.order_events:
        if event["eventId"] in seen:
            report.resent_events += 1
            continue
        seen.add(event["eventId"])
        by_order[key].append(event)
    reached: dict[str, list[str]] = {}
    for order_id, order in orders.items():
        events = by_order.get(order_id, [])
        if not events or events[0]["eventType"] != "OrderCreated":
            report.illegal_sequences += 1
            report.problem(f"events of {order_id} do not start with OrderCreated")
            continue
        statuses = reached[order_id] = [events[0]["data"]["status"]]
        announced_cancel = 0
        for event in events[1:]:
            data, status = event["data"], statuses[-1]
            if event["eventType"] == "OrderCancelled":
                announced_cancel += 1
                if status != "cancelled" or announced_cancel > 1:
                    report.illegal_sequences += 1
                    report.problem(f"events of {order_id}: OrderCancelled #{announced_cancel} while {status}")
                continue
            if data["previousStatus"] != status or not is_legal(ORDER_TRANSITIONS, status, data["newStatus"]):
                report.illegal_sequences += 1
                report.problem(f"events of {order_id}: {status} then {data['previousStatus']}->{data['newStatus']}")
            statuses.append(data["newStatus"])
        if statuses[-1] != order["status"]:
            report.illegal_sequences += 1
            report.problem(f"events of {order_id} end at {statuses[-1]}, the order is {order['status']}")
        if statuses[-1] == "cancelled" and not announced_cancel:
            report.missing += 1
            report.problem(f"{order_id} was cancelled without an OrderCancelled event")
    return reached


def _notifications(run: Run, reached: dict[str, list[str]], report: Report) -> None:
    per_transition: dict[tuple[str, str], set[str]] = defaultdict(set)
    for _, note in run.notifications:
        per_transition[(note["fields"]["orderId"], note["fields"]["status"])].add(note["notificationId"])
    for order_id, statuses in reached.items():
        for status in statuses:
            if status in CUSTOMER_FACING:
                count = len(per_transition.get((order_id, status), ()))
                if count != 1:
                    report.doubled += 1 if count > 1 else 0
                    report.missing += 1 if count == 0 else 0
                    report.problem(f"{count} notifications for {order_id} {status}")
    for order_id, status in per_transition:
        if order_id in reached and status not in reached[order_id]:
            report.spurious += 1
            report.problem(f"a notification for {order_id} {status}, a status it never reached")
