"""Pure order-saga logic: what each message does to an order row, which
commands the row's state calls for, and the events its history tells.

Consumes and returns the typed rows and messages of ``schemas.messages``
(an ``OrderState`` row); imports nothing from Kafka, Faust or aiohttp. The
order agent calls ``decide`` for every message, stores the row it returns,
and sends the commands of ``new_effects`` and the ``new_events``; on a
replayed message it sends those of ``effects`` and ``events_caused_by``
again, so outputs lost in a crash are restored (consumers recognise re-sent
events by their eventId). Each effect is a named type that builds its own
command (``Effect.command``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from orderflow.schemas import messages as m
from orderflow.tables import order_changes as changes
from orderflow.tables import order_status as st
from orderflow.tables.clock import iso
from orderflow.tables.envelope import Event, envelope
from orderflow.tables.money import amount

__all__ = [
    "CheckCustomer",
    "Command",
    "Context",
    "Decision",
    "Effect",
    "Refund",
    "Release",
    "RequestPayment",
    "Reserve",
    "Sell",
    "ShipOrder",
    "StopShipment",
    "awaits_payment",
    "decide",
    "effects",
    "events_caused_by",
    "new_effects",
    "new_events",
    "new_order_state",
    "payment_deadline",
    "summary",
]

Row = m.OrderState
Record = Mapping[str, Any]  # a message whose shape its kind names (see DECISIONS)
EXPIRED = "payment_expired"  # errorCode of a payment request that outlived the order's window


@dataclass(frozen=True)
class Context:
    now_ms: int
    cause: str  # topic/partition/offset of the message being handled
    payment_timeout_ms: int
    # a delivery service runs: a confirmed order's cancel waits for it to stop the shipment
    carrier_cancels: bool = False


@dataclass(frozen=True)
class Decision:
    """The new row (None: nothing changes) and, when ignored, why."""

    row: Row | None = None
    ignored: str | None = None
    # a physical fact recorded against an order that had ended without it
    contradiction: str | None = None


UNCHANGED = Decision()


# --- effects: the commands an order's state calls for ----------------------------------

@dataclass(frozen=True)
class Command:
    """One record to send: its schema's short name, its key and its value."""

    kind: str
    key: str
    record: Mapping[str, Any]


@dataclass(frozen=True, order=True)
class Effect:
    """Something the order's state needs done downstream (idempotently)."""

    name: ClassVar[str]
    line: int = -1  # the line it is for; -1 for the whole order

    @property
    def sort_key(self) -> tuple[str, int]:
        return self.name, self.line

    def command(self, row: Row, now_ms: int) -> Command:
        raise NotImplementedError


@dataclass(frozen=True, order=True)
class Reserve(Effect):
    name: ClassVar[str] = "reserve"

    def command(self, row: Row, now_ms: int) -> Command:
        line = row["items"][self.line]
        record: m.ReserveLine = {"orderId": row["orderId"], "line": self.line, "productId": line["productId"],
                                 "quantity": line["quantity"], "requestedPriceCents": line["requestedPriceCents"],
                                 "lineCount": len(row["items"])}
        return Command("ReserveLine", line["productId"], record)


@dataclass(frozen=True, order=True)
class _SettleLine(Effect):
    """What becomes of a reserved line: given back, or sold (same record shape)."""

    schema: ClassVar[str]

    def command(self, row: Row, now_ms: int) -> Command:
        product = row["items"][self.line]["productId"]
        record: m.ReleaseLine | m.SellLine = {"orderId": row["orderId"], "line": self.line, "productId": product}
        return Command(self.schema, product, record)


@dataclass(frozen=True, order=True)
class Release(_SettleLine):
    name: ClassVar[str] = "release"
    schema: ClassVar[str] = "ReleaseLine"


@dataclass(frozen=True, order=True)
class Sell(_SettleLine):
    name: ClassVar[str] = "sell"
    schema: ClassVar[str] = "SellLine"


@dataclass(frozen=True, order=True)
class CheckCustomer(Effect):
    name: ClassVar[str] = "check_customer"

    def command(self, row: Row, now_ms: int) -> Command:
        record: m.CheckCustomer = {"orderId": row["orderId"], "customerId": row["customerId"],
                                   "amountCents": row["totalCents"] or 0, "at": row["createdAt"]}
        return Command("CheckCustomer", row["customerId"], record)


@dataclass(frozen=True, order=True)
class RequestPayment(Effect):
    name: ClassVar[str] = "request_payment"
    version: int = 0  # each change before payment asks again, one higher

    def command(self, row: Row, now_ms: int) -> Command:
        record: m.RequestPayment = {
            "orderId": row["orderId"], "customerId": row["customerId"], "amountCents": row["totalCents"] or 0,
            "currency": row["currency"], "paymentMethodId": row["paymentMethodId"],
            # when the order began to wait for payment: the same on every re-send
            "requestedAt": row["history"][-1]["at"], "version": self.version}
        return Command("RequestPayment", row["orderId"], record)


@dataclass(frozen=True, order=True)
class Refund(Effect):
    name: ClassVar[str] = "refund"

    def command(self, row: Row, now_ms: int) -> Command:
        record: m.RefundPayment = {"orderId": row["orderId"], "amountCents": row["totalCents"] or 0,
                                   "currency": row["currency"], "reason": "order_cancelled", "requestedAt": now_ms}
        return Command("RefundPayment", row["orderId"], record)


@dataclass(frozen=True, order=True)
class ShipOrder(Effect):
    name: ClassVar[str] = "ship_order"

    def command(self, row: Row, now_ms: int) -> Command:
        confirmed = next(h["at"] for h in reversed(row["history"]) if h["status"] == st.CONFIRMED)
        record: m.ShipOrder = {"orderId": row["orderId"], "customerId": row["customerId"],
                               "shippingAddress": row["shippingAddress"], "confirmedAt": confirmed}
        return Command("ShipOrder", row["orderId"], record)


@dataclass(frozen=True, order=True)
class StopShipment(Effect):
    name: ClassVar[str] = "stop_shipment"

    def command(self, row: Row, now_ms: int) -> Command:
        record: m.CancelShipment = {"orderId": row["orderId"], "reason": row["cancelRequested"] or "customer_request",
                                    "requestedAt": now_ms}
        return Command("CancelShipment", row["orderId"], record)


def new_order_state(command: m.PlaceOrder, ctx: Context) -> Row:
    """The first row of an order, from its PlaceOrder command."""
    created = command.get("placedAt") or ctx.now_ms
    row: Row = {
        "orderId": command["orderId"],
        "customerId": command["customerId"],
        "status": st.PENDING,
        "items": [
            {"productId": line["productId"], "quantity": line["quantity"],
             "requestedPriceCents": line.get("priceCents"), "unitPriceCents": None,
             "status": "pending", "reason": None, "addedBy": None, "removedBy": None}
            for line in command["items"]
        ],
        "totalCents": None,
        "customerCheck": "none",
        "currency": command.get("currency", "USD"),
        "paymentMethodId": command["paymentMethodId"],
        "shippingAddress": copy.deepcopy(command.get("shippingAddress")),
        "paymentStatus": "none",
        "paymentId": None,
        "paymentError": None,
        "shippingStatus": "none",
        "cancelRequested": None,
        "contradictions": [],
        "history": [{"status": st.PENDING, "at": created, "reason": None, "cause": ctx.cause}],
        "createdAt": created,
        "updatedAt": created,
        "revision": 1,
        "appliedOffsets": {},
        "paymentVersion": 0,
        "change": None,
    }
    return row


# --- decisions, one per message type -------------------------------------------------

def _place_order(row: Row | None, msg: m.PlaceOrder, ctx: Context) -> Decision:
    if row is not None:
        return UNCHANGED  # a duplicated or replayed PlaceOrder: the first one wins
    return Decision(new_order_state(msg, ctx))


def _cancel_order(row: Row, msg: m.CancelOrder, ctx: Context) -> Decision:
    reason = msg.get("reason") or "customer_request"
    if row["status"] == st.CONFIRMED and ctx.carrier_cancels:
        # the goods may be leaving: the delivery service decides (ShipmentCancelled, or Shipped)
        if row.get("cancelRequested"):
            return UNCHANGED
        new = _changed(row, ctx)
        new["cancelRequested"] = reason
        return Decision(new)
    return _move(row, st.CANCELLED, reason, ctx)


def _change_order(row: Row, msg: m.ChangeOrder, ctx: Context) -> Decision:
    """Change the items of an unpaid order (tables.order_changes); a refusal is recorded on the row."""
    earlier = row.get("change")
    if earlier is not None and earlier.get("changeId") == msg["changeId"]:
        return UNCHANGED  # replayed, or sent again: decided once
    new = _changed(row, ctx)
    why = changes.change_refusal(row, msg)
    if why is not None:
        if earlier is not None and changes.in_progress(row):
            return Decision(ignored=f"change {msg['changeId']}: {why}")  # the one in progress stays on the row
        new["change"] = {"changeId": msg["changeId"], "status": changes.REFUSED, "reason": why, "at": ctx.now_ms,
                         "previousTotalCents": row["totalCents"], "requestedAt": msg["requestedAt"]}
        return Decision(new)
    return Decision(changes.begin(new, msg, ctx.now_ms))


def _shipment_cancelled(row: Row, msg: m.ShipmentCancelled, ctx: Context) -> Decision:
    if row["status"] != st.CONFIRMED:
        return UNCHANGED  # cancelled already; a shipment cannot be stopped after it left
    decision = _move(row, st.CANCELLED, row.get("cancelRequested") or msg["data"]["reason"], ctx)
    if decision.row is not None:
        decision.row["cancelRequested"] = None
        decision.row["shippingStatus"] = "cancelled"
    return decision


def _expire_order(row: Row, msg: m.ExpireOrder, ctx: Context) -> Decision:
    deadline = payment_deadline(row, ctx.payment_timeout_ms)
    if deadline is None or ctx.now_ms < deadline:
        return UNCHANGED  # paid, failed or cancelled meanwhile, or not yet due
    return _move(row, st.CANCELLED, "payment_timeout", ctx)


def _line_result(row: Row, msg: m.LineResult, ctx: Context) -> Decision:
    index = msg["line"]
    if not 0 <= index < len(row["items"]) or row["items"][index]["productId"] != msg["productId"]:
        return Decision(ignored=f"line {index} of {msg['productId']} is not in the order")
    line = row["items"][index]
    target = msg["outcome"]
    if line["status"] == target:
        return UNCHANGED
    if not st.is_legal(st.LINE_TRANSITIONS, line["status"], target):
        return Decision(ignored=f"line {index}: {line['status']} -> {target}")
    new = _changed(row, ctx)
    new_line = new["items"][index]
    new_line["status"] = target
    if target == "reserved":
        new_line["unitPriceCents"] = msg.get("unitPriceCents")
    elif target == "rejected":
        new_line["reason"] = msg.get("reason")
    if new["status"] == st.PENDING and all(i["status"] != "pending" for i in new["items"]):
        _conclude_reservation(new, ctx)
    elif new["status"] == st.PENDING_PAYMENT and changes.in_progress(new):
        changes.concluded(new, ctx.now_ms)
    return Decision(new)


def _conclude_reservation(row: Row, ctx: Context) -> None:
    """Every line is in: all reserved means the customer check next, any rejection rejects."""
    rejected = [line for line in row["items"] if line["status"] != "reserved"]
    if rejected:
        _append_status(row, st.REJECTED, rejected[0].get("reason") or "rejected", ctx)
        return
    row["totalCents"] = order_total(row["items"])
    row["customerCheck"] = "pending"


def _customer_checked(row: Row, msg: m.CustomerCheckResult, ctx: Context) -> Decision:
    """The customer check is in: passed means payment next, failed rejects."""
    if row["status"] != st.PENDING or row["customerCheck"] != "pending":
        return UNCHANGED  # a repeated result, or the order moved on (cancelled)
    new = _changed(row, ctx)
    if not msg["passed"]:
        new["customerCheck"] = "failed"
        _append_status(new, st.REJECTED, msg.get("reason") or "customer_check_failed", ctx)
        return Decision(new)
    new["customerCheck"] = "passed"
    new["paymentStatus"] = "pending"
    _append_status(new, st.PENDING_PAYMENT, "validated", ctx)
    return Decision(new)


def order_total(items: list[m.OrderStateLine]) -> int:
    return sum(line["quantity"] * (line["unitPriceCents"] or 0) for line in items)


def _payment(target: str, status_target: m.OrderStatus | None, reason_of: Callable[[Record], str]
             ) -> Callable[[Row, Record, Context], Decision]:
    """A decision for a payment event: move paymentStatus, and the order if it waits for it.

    The four payment events differ only in their ``data``; it is read as a
    mapping since not all of them carry paymentId or errorCode."""

    def decide_payment(row: Row, msg: Record, ctx: Context) -> Decision:
        superseded = msg["data"].get("version", 0) < row.get("paymentVersion", 0)
        if superseded and target == "captured" and row["status"] == st.PENDING_PAYMENT:
            # the old total was charged before the payment agent saw the change: the charge stands
            new = changes.undone(_changed(row, ctx), ctx.now_ms)
            new["paymentVersion"] = msg["data"].get("version", 0)
            row = new
        elif superseded:
            return Decision(ignored=f"{target} for payment request {msg['data'].get('version', 0)}, "
                                    f"superseded by {row.get('paymentVersion', 0)}")
        current = row["paymentStatus"]
        if current == target:
            return UNCHANGED
        if not st.is_legal(st.PAYMENT_TRANSITIONS, current, target):
            return Decision(ignored=f"payment {current} -> {target}")
        new = _changed(row, ctx)
        new["paymentStatus"] = target
        data = msg["data"]
        new["paymentId"] = data.get("paymentId") or new["paymentId"]
        if target == "failed":
            new["paymentError"] = data.get("errorCode")
        if status_target is not None and new["status"] == st.PENDING_PAYMENT:
            if data.get("errorCode") == EXPIRED:
                # The payment agent gave up because the order's own payment
                # window closed: the same outcome as the timeout timer's.
                _append_status(new, st.CANCELLED, "payment_timeout", ctx)
            else:
                _append_status(new, status_target, reason_of(data), ctx)
                if new["status"] in st.PAID:
                    _mark_sold(new)
        return Decision(new)

    return decide_payment


def _mark_sold(row: Row) -> None:
    """A paid order's reserved lines are sold as the saga sends their SellLine.

    A sell of a reserved line cannot fail (its units are held), so the stock
    agent answers none: the answer was three records per order of three lines
    (the result, its delivery to the saga, the order row's write) that told
    the saga nothing. A crash cannot lose the sell: ``effects`` keeps the
    Sell of every sold line while the order is paid, so a replay sends it again."""
    for line in row["items"]:
        if line["status"] == "reserved" and not line.get("removedBy"):
            line["status"] = "sold"


def compensation_for(row: Row) -> list[str]:
    """What an ended order whose goods left anyway needs done by hand: its
    stock was given back (or never sold), and its money refunded or never taken."""
    owed = ["return_goods"]
    if row["paymentStatus"] in ("refunded", "partially_refunded"):
        owed.append("reverse_refund")
    elif row["paymentStatus"] != "captured":
        owed.append("collect_payment")
    return owed


def _contradicted(row: Row, fact: str, ctx: Context) -> Decision:
    """Goods reported gone for an order that ended without them leaving: never
    dropped. The order keeps its status (its stock and money already moved
    back) and records the fact with the compensation it calls for, once per fact."""
    if any(c["fact"] == fact for c in row.get("contradictions", ())):
        return UNCHANGED
    new = _changed(row, ctx)
    new["contradictions"] = [*row.get("contradictions", ()), {
        "fact": fact, "at": ctx.now_ms, "orderStatus": row["status"], "paymentStatus": row["paymentStatus"],
        "compensation": compensation_for(row), "cause": ctx.cause}]
    return Decision(new, contradiction=fact)


def _shipment(target: m.OrderStatus) -> Callable[[Row, Record, Context], Decision]:
    fact = "Shipped" if target == st.SHIPPED else "Delivered"

    def decide_shipment(row: Row, msg: Record, ctx: Context) -> Decision:
        if row["status"] in st.UNDONE:
            return _contradicted(row, fact, ctx)
        # a cancel still waiting loses: the goods left first
        decision = _move(row, target, "picked_up_before_cancel" if row.get("cancelRequested") else None, ctx)
        if decision.row is not None:
            decision.row["shippingStatus"] = target
            decision.row["cancelRequested"] = None
        return decision

    return decide_shipment


# An operator's refund of part of the payment, or the refund of all of it.
_REFUNDED = {True: _payment("partially_refunded", None, lambda d: ""), False: _payment("refunded", None, lambda d: "")}

# Each decision takes the message type its kind names.
DECISIONS: Mapping[str, Callable[[Row, Any, Context], Decision]] = {
    "CancelOrder": _cancel_order,
    "ChangeOrder": _change_order,
    "CustomerCheckResult": _customer_checked,
    "ExpireOrder": _expire_order,
    "LineResult": _line_result,
    "PaymentAuthorized": _payment("authorized", None, lambda d: ""),
    "PaymentCompleted": _payment("captured", st.CONFIRMED, lambda d: "payment_successful"),
    "PaymentFailed": _payment("failed", st.PAYMENT_FAILED, lambda d: d.get("errorCode") or "payment_failed"),
    "PaymentRefunded": lambda row, msg, ctx: _REFUNDED[bool(msg["data"].get("partial"))](row, msg, ctx),
    "Shipped": _shipment(st.SHIPPED),
    "Delivered": _shipment(st.DELIVERED),
    "ShipmentCancelled": _shipment_cancelled,
}


def decide(row: Row | None, kind: str, msg: Record, ctx: Context) -> Decision:
    """What message ``msg`` of schema ``kind`` (short name) does to ``row``."""
    if kind == "PlaceOrder":
        return _place_order(row, msg, ctx)  # type: ignore[arg-type]  # kind names its type
    if row is None:
        return Decision(ignored=f"{kind} for an unknown order")
    return DECISIONS[kind](row, msg, ctx)


# --- helpers that change a copy --------------------------------------------------------

def _changed(row: Row, ctx: Context) -> Row:
    # Copies what decisions change in place (a line's fields, the history
    # list); the rest is only ever replaced whole, so it is shared, not
    # deep-copied on every message.
    new = row.copy()
    new["items"] = [line.copy() for line in row["items"]]
    new["history"] = list(row["history"])
    new["revision"] = row["revision"] + 1
    new["updatedAt"] = ctx.now_ms
    return new


def _append_status(row: Row, status: m.OrderStatus, reason: str | None, ctx: Context) -> None:
    row["status"] = status
    row["history"].append({"status": status, "at": ctx.now_ms, "reason": reason, "cause": ctx.cause})


def _move(row: Row, target: m.OrderStatus, reason: str | None, ctx: Context) -> Decision:
    if row["status"] == target:
        return UNCHANGED
    if not st.is_legal(st.ORDER_TRANSITIONS, row["status"], target):
        return Decision(ignored=f"order {row['status']} -> {target}")
    new = _changed(row, ctx)
    _append_status(new, target, reason, ctx)
    return Decision(new)


# --- what the state calls for ---------------------------------------------------------

def effects(row: Row) -> frozenset[Effect]:
    """The commands an order in this state needs sent (idempotent downstream)."""
    status, items = row["status"], row["items"]
    out: set[Effect] = set()
    if status in st.IN_PROGRESS:
        out |= {Reserve(i) for i, line in enumerate(items)
                if line["status"] == "pending" and line.get("removedBy") is None}
        # a refused change's own added lines give their units back at once
        out |= {Release(i) for i, line in enumerate(items)
                if line["status"] == "reserved" and line.get("addedBy") is not None
                and line.get("removedBy") == line.get("addedBy")}
    if status == st.PENDING:
        if row["customerCheck"] == "pending":
            out.add(CheckCustomer())
    elif awaits_payment(row):
        out.add(RequestPayment(version=row.get("paymentVersion", 0)))
    if status == st.CONFIRMED:
        out.add(ShipOrder())
        if row.get("cancelRequested"):
            out.add(StopShipment())
    if status in st.PAID:
        out |= {Sell(i) for i, line in enumerate(items)
                if line["status"] in ("reserved", "sold") and not line.get("removedBy")}
        # what a change took out goes back once the order is paid
        out |= {Release(i) for i, line in enumerate(items) if line["status"] == "reserved" and line.get("removedBy")}
    if status in st.UNDONE:
        out |= {Release(i) for i, line in enumerate(items) if line["status"] in ("reserved", "sold")}
        if row["paymentStatus"] in st.REFUNDABLE_PAYMENT:
            out.add(Refund())
    return frozenset(out)


def in_order(found: frozenset[Effect] | set[Effect]) -> list[Effect]:
    """Effects in the order their commands are sent (by name, then line)."""
    return sorted(found, key=lambda effect: effect.sort_key)


def awaits_payment(row: Row) -> bool:
    """Whether the order still waits for its payment to be captured or to fail."""
    return (row["status"] == st.PENDING_PAYMENT and row["paymentStatus"] in ("pending", "authorized")
            and not changes.in_progress(row))


def new_effects(old: Row | None, new: Row) -> list[Effect]:
    before = effects(old) if old is not None else frozenset()
    return in_order(effects(new) - before)


def payment_deadline(row: Row, timeout_ms: int) -> int | None:
    """When an order awaiting payment times out; None if it is not awaiting payment."""
    if row["status"] != st.PENDING_PAYMENT:
        return None
    return int(row["history"][-1]["at"]) + timeout_ms


# --- events ---------------------------------------------------------------------------


def events_at(row: Row, index: int) -> list[Event]:
    """The events that history entry ``index`` of ``row`` publishes."""
    entry, order_id = row["history"][index], row["orderId"]
    event_id = f"evt_{order_id}_{index}"
    if index == 0:
        # Only what the PlaceOrder said, never later state, so a re-send of
        # this eventId carries the same data.
        items: list[m.OrderEventLine] = [
            {"productId": i["productId"], "quantity": i["quantity"], "priceCents": i["requestedPriceCents"],
             "price": amount(i["requestedPriceCents"])}
            for i in row["items"]]
        requested = [i["requestedPriceCents"] for i in row["items"]]
        total = None if None in requested else sum(i["quantity"] * (i["requestedPriceCents"] or 0)
                                                   for i in row["items"])
        return [envelope("OrderCreated", event_id, iso(entry["at"]), {
            "orderId": order_id, "customerId": row["customerId"], "items": items,
            "totalCents": total, "totalAmount": amount(total), "currency": row["currency"],
            "status": entry["status"]})]
    out = [envelope("OrderStatusChanged", event_id, iso(entry["at"]), {
        "orderId": order_id, "previousStatus": row["history"][index - 1]["status"],
        "newStatus": entry["status"], "reason": entry["reason"]})]
    if entry["status"] == st.CANCELLED:
        refund = (row["totalCents"] or 0) if row["paymentStatus"] in st.REFUNDABLE_PAYMENT | {"refunded"} else 0
        out.append(envelope("OrderCancelled", f"{event_id}_cancelled", iso(entry["at"]), {
            "orderId": order_id, "customerId": row["customerId"], "reason": entry["reason"],
            "refundAmountCents": refund, "refundAmount": amount(refund)}))
    return out


def new_events(old: Row | None, new: Row) -> list[Event]:
    start = len(old["history"]) if old is not None else 0
    return [event for i in range(start, len(new["history"])) for event in events_at(new, i)]


def events_caused_by(row: Row, cause: str) -> list[Event]:
    """The events a (replayed) message made, to send again with the same ids."""
    return [event for i, entry in enumerate(row["history"]) if entry.get("cause") == cause
            for event in events_at(row, i)]


def summary(row: Row) -> m.OrderSummary:
    """The OrderSummary of a row, for the customer's order list."""
    return {"orderId": row["orderId"], "customerId": row["customerId"], "status": row["status"],
            "totalCents": row["totalCents"], "currency": row["currency"], "createdAt": row["createdAt"],
            "updatedAt": row["updatedAt"], "revision": row["revision"]}
