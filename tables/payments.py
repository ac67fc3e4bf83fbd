"""Pure payment logic: which provider call an order's payment needs next, the
payment row after each call, and the payment events the row tells.

Consumes and returns the typed dicts of ``schemas.messages``: ``PaymentState``
rows, ``RequestPayment``/``RefundPayment`` and the payment events; no I/O.
The payment row remembers every step the provider confirmed, so a replayed
request never calls the provider for a step already done: it re-sends the
event instead (same eventId).

Another payment service may settle an order on payments.events while its
request waits here (our provider down, or a backlog). An authorization is
only a hold, and asking for one is idempotent per order, so it is made
either way: its payment id tells ours from the other service's. The capture,
the actual charge, is made only while the order still waits for payment or
was settled under our own payment id (a replay after a crash lost our row);
otherwise the customer paid elsewhere and capturing would charge them twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orderflow.schemas.messages import OrderState, PaymentState, RefundPayment, RequestPayment
from orderflow.tables.clock import iso
from orderflow.tables.envelope import Event, envelope
from orderflow.tables.money import amount
from orderflow.tables.orders import awaits_payment

__all__ = ["after_authorize", "after_capture", "after_failure", "after_refund", "event_for", "new_payment",
           "next_step", "order_id_of", "payment_id_of", "settled_elsewhere", "transaction_id", "with_history"]

Row = PaymentState
Command = RequestPayment | RefundPayment

AUTHORIZE, CAPTURE, REFUND, EXPIRE, RESEND, NOTHING, SETTLED_ELSEWHERE = (
    "authorize", "capture", "refund", "expire", "resend", "nothing", "settled_elsewhere")
EXPIRED = "payment_expired"  # errorCode when a request outlived the order's payment window
EVENT_OF_STATUS = {"authorized": "PaymentAuthorized", "captured": "PaymentCompleted",
                   "failed": "PaymentFailed", "refunded": "PaymentRefunded"}


PAYMENT_ID_PREFIX = "pay_"


def payment_id_of(order_id: str) -> str:
    """orderflow's id of an order's payment (one per order); the provider's is its transactionId."""
    return f"{PAYMENT_ID_PREFIX}{order_id}"


def order_id_of(payment_id: str) -> str | None:
    """The order a payment id of ours belongs to (None: not one of ours)."""
    order_id = payment_id.removeprefix(PAYMENT_ID_PREFIX)
    return order_id if order_id != payment_id and order_id else None


def transaction_id(state: Row) -> str | None:
    """The provider's id of the payment; a row written before transactionId existed kept it as paymentId."""
    return state.get("transactionId") or (None if state["paymentId"] == payment_id_of(state["orderId"])
                                          else state["paymentId"])


def new_payment(command: Command) -> Row:
    cmd: Mapping[str, Any] = command  # a RefundPayment has no customerId or method
    return {"orderId": cmd["orderId"], "status": "none", "paymentId": payment_id_of(cmd["orderId"]),
            "transactionId": None,
            "amountCents": cmd.get("amountCents", 0), "currency": cmd.get("currency", "USD"),
            "customerId": cmd.get("customerId", ""), "refundId": None, "errorCode": None,
            "errorMessage": None, "createdAt": 0, "history": []}


def next_step(state: Row | None, kind: str, cmd: Command, now_ms: int, timeout_ms: int,
              order: OrderState | None = None) -> str:
    """The next thing to do for a RequestPayment or RefundPayment.

    ``order`` is the order's row as the saga last stored it (None when it is
    not at hand): it tells whether another payment service settled it."""
    status = state["status"] if state is not None else "none"
    if kind == "RefundPayment":
        return {"captured": REFUND, "refunded": RESEND}.get(status, NOTHING)
    if status == "none":
        # A request older than the payment timeout belongs to an order already
        # cancelled; charging it would only mean refunding it.
        return EXPIRE if now_ms - cmd["requestedAt"] > timeout_ms else AUTHORIZE
    if status == "authorized":
        return SETTLED_ELSEWHERE if state is not None and settled_elsewhere(state, order) else CAPTURE
    return RESEND


def settled_elsewhere(state: Row, order: OrderState | None) -> bool:
    """Whether the order's payment was settled by another payment service:
    it no longer waits for payment, and not under our payment id."""
    if order is None or awaits_payment(order):
        return False
    return order["paymentId"] != state["paymentId"]


def after_authorize(state: Row, transaction: str) -> Row:
    return {**state, "status": "authorized", "paymentId": payment_id_of(state["orderId"]),
            "transactionId": transaction}


def after_capture(state: Row) -> Row:
    return {**state, "status": "captured"}


def after_refund(state: Row, refund_id: str) -> Row:
    return {**state, "status": "refunded", "refundId": refund_id}


def after_failure(state: Row, code: str, message: str) -> Row:
    return {**state, "status": "failed", "errorCode": code, "errorMessage": message}



def with_history(before: Row | None, state: Row, now_ms: int) -> Row:
    """``state`` as it is to be written, ``before`` being the row it came from: a
    status it newly reached is appended to its history (with the error, for a
    failure), and a first row gets its createdAt."""
    history = list(state.get("history") or [])
    if before is None or before["status"] != state["status"]:
        reason = state.get("errorCode") if state["status"] == "failed" else None
        history.append({"status": state["status"], "at": now_ms, "reason": reason})
    return {**state, "history": history, "createdAt": state.get("createdAt") or now_ms}


def event_for(state: Row, now_ms: int) -> Event:
    """The event announcing the payment's current status (deterministic eventId)."""
    kind = EVENT_OF_STATUS[state["status"]]
    data: dict[str, Any] = {"paymentId": state["paymentId"], "transactionId": transaction_id(state),
                            "orderId": state["orderId"],
                            "amountCents": state["amountCents"], "amount": amount(state["amountCents"]),
                            "currency": state["currency"]}
    if kind == "PaymentRefunded":
        data.update(refundId=state["refundId"], reason="order_cancelled")
    else:
        data["customerId"] = state["customerId"]
        if kind == "PaymentFailed":
            data.update(errorCode=state["errorCode"] or "failed", errorMessage=state["errorMessage"] or "")
        else:
            data["status"] = state["status"]
    return envelope(kind, f"evt_pay_{state['orderId']}_{state['status']}", iso(now_ms), data)
