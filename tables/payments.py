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

An operator may refund a captured payment in parts (IssueRefund, one per
refundRequestId): each is recorded on the row, refunded or refused with the
reason, so a replay neither refunds twice nor asks again; the payment is
partially_refunded until nothing is left. A cancellation refunds whatever is
left.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orderflow.schemas.messages import (
    IssueRefund,
    OrderState,
    PaymentRefund,
    PaymentState,
    RefundPayment,
    RequestPayment,
)
from orderflow.tables.clock import iso
from orderflow.tables.envelope import Event, envelope
from orderflow.tables.money import amount
from orderflow.tables.orders import awaits_payment

__all__ = ["for_request", "after_authorize", "after_capture", "after_failure", "after_operator_refund", "after_refund",
           "after_refund_refused", "earlier_refund", "event_for", "left_to_refund", "new_payment", "next_step",
           "order_id_of", "payment_id_of", "refund_event", "refund_refusal", "refunded_cents", "requested_refund",
           "settled_elsewhere", "transaction_id", "with_history"]

Row = PaymentState
Command = RequestPayment | RefundPayment | IssueRefund

AUTHORIZE, CAPTURE, REFUND, EXPIRE, RESEND, NOTHING, SETTLED_ELSEWHERE, SUPERSEDED = (
    "authorize", "capture", "refund", "expire", "resend", "nothing", "settled_elsewhere", "superseded")
REFUND_PART, REFUSE_REFUND, RESEND_REFUND = "refund_part", "refuse_refund", "resend_refund"
EXPIRED = "payment_expired"  # errorCode when a request outlived the order's payment window
PARTIALLY_REFUNDED = "partially_refunded"
REFUNDABLE = frozenset({"captured", PARTIALLY_REFUNDED})
MAX_REFUNDS = 20  # an operator's refunds per payment: keeps the row small
EVENT_OF_STATUS = {"authorized": "PaymentAuthorized", "captured": "PaymentCompleted",
                   "failed": "PaymentFailed", "refunded": "PaymentRefunded", PARTIALLY_REFUNDED: "PaymentRefunded"}


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
            "errorMessage": None, "createdAt": 0, "history": [], "refundedCents": 0, "refunds": [],
            "version": cmd.get("version") or 0}


def for_request(state: Row, cmd: RequestPayment) -> Row:
    """The row a payment request works on: a newer request (the order changed before it was paid)
    starts afresh from an authorization never captured, or a failure; what was captured stays."""
    if (cmd.get("version") or 0) <= (state.get("version") or 0) or state["status"] not in (
            "none", "authorized", "failed"):
        return state
    fresh = new_payment(cmd)
    return {**fresh, "history": state.get("history") or [], "createdAt": state.get("createdAt") or 0}


def next_step(state: Row | None, kind: str, cmd: Command, now_ms: int, timeout_ms: int,
              order: OrderState | None = None) -> str:
    """The next thing to do for a RequestPayment or RefundPayment.

    ``order`` is the order's row as the saga last stored it (None when it is
    not at hand): it tells whether another payment service settled it."""
    status = state["status"] if state is not None else "none"
    if kind == "IssueRefund":
        return _operator_refund_step(state, cmd)  # type: ignore[arg-type]  # the kind names its type
    if kind == "RefundPayment":
        return {"captured": REFUND, PARTIALLY_REFUNDED: REFUND, "refunded": RESEND}.get(status, NOTHING)
    asked: Mapping[str, Any] = cmd
    if status in ("none", "authorized") and order is not None and (
            order.get("paymentVersion") or 0) > (asked.get("version") or 0):
        return SUPERSEDED  # the order changed since it asked: its newer request is the one to charge
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
    """A cancellation's refund: all that was left."""
    return {**state, "status": "refunded", "refundId": refund_id, "refundedCents": state["amountCents"]}


# --- an operator's refunds ------------------------------------------------------------

def refunded_cents(state: Row) -> int:
    """All refunded of the payment so far (a row older than refundedCents: all of it, once refunded)."""
    if state["status"] == "refunded" and not state.get("refundedCents"):
        return state["amountCents"]
    return state.get("refundedCents") or 0


def left_to_refund(state: Row) -> int:
    return state["amountCents"] - refunded_cents(state)


def requested_refund(state: Row, cmd: IssueRefund) -> int:
    """What an operator's refund asks for: its amount, or all that is left."""
    asked = cmd.get("amountCents")
    return left_to_refund(state) if asked is None else asked


def earlier_refund(state: Row | None, refund_request_id: str) -> PaymentRefund | None:
    """The answer already given to this refund request, if any."""
    return _refund_where(state, "refundRequestId", refund_request_id)


def refund_refusal(state: Row | None, cmd: IssueRefund) -> str | None:
    """Why an operator's refund cannot be made, or None when it can (the gateway asks first, the agent decides)."""
    if state is None or state["status"] == "none":
        return "the order has no payment"
    if state["status"] not in REFUNDABLE:
        return f"the payment is {state['status']}, not captured"
    asked, left = requested_refund(state, cmd), left_to_refund(state)
    if asked <= 0:
        return "a refund must be for more than 0"
    if asked > left:
        return f"the refund ({asked} cents) exceeds the {left} cents left of the captured amount"
    if len(state.get("refunds") or ()) >= MAX_REFUNDS:
        return f"a payment takes at most {MAX_REFUNDS} refunds"
    return None


def _operator_refund_step(state: Row | None, cmd: IssueRefund) -> str:
    earlier = earlier_refund(state, cmd["refundRequestId"])
    if earlier is not None:
        return RESEND_REFUND if earlier["status"] == "refunded" else NOTHING
    return REFUSE_REFUND if refund_refusal(state, cmd) is not None else REFUND_PART


def _refund_entry(cmd: IssueRefund, status: str, amount_cents: int, now_ms: int,
                  refund_id: str | None = None, error: str | None = None) -> PaymentRefund:
    return {"refundRequestId": cmd["refundRequestId"], "status": status, "amountCents": amount_cents,
            "reason": cmd.get("reason") or "", "refundId": refund_id, "error": error,
            "requestedBy": cmd.get("requestedBy") or "", "at": now_ms}


def after_operator_refund(state: Row, cmd: IssueRefund, refund_id: str, now_ms: int) -> Row:
    """The row once the provider refunded what ``cmd`` asked for."""
    refunded = _refund_entry(cmd, "refunded", requested_refund(state, cmd), now_ms, refund_id)
    total = refunded_cents(state) + refunded["amountCents"]
    return {**state, "status": "refunded" if total >= state["amountCents"] else PARTIALLY_REFUNDED,
            "refundId": refund_id, "refundedCents": total, "refunds": [*(state.get("refunds") or ()), refunded]}


def after_refund_refused(state: Row, cmd: IssueRefund, why: str, now_ms: int) -> Row:
    """The row with the refusal recorded (so a replay of the request is answered, not retried)."""
    refused = _refund_entry(cmd, "refused", cmd.get("amountCents") or 0, now_ms, error=why)
    return {**state, "refunds": [*(state.get("refunds") or ()), refused]}


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


def refund_event(state: Row, refund: PaymentRefund, now_ms: int) -> Event:
    """PaymentRefunded for one of an operator's refunds (its eventId names the request)."""
    made = [r for r in state.get("refunds") or () if r["status"] == "refunded"]
    through = sum(r["amountCents"] for r in made[:made.index(refund) + 1])
    return envelope("PaymentRefunded", f"evt_pay_{state['orderId']}_{refund['refundRequestId']}", iso(now_ms), {
        "paymentId": state["paymentId"], "transactionId": transaction_id(state), "orderId": state["orderId"],
        "amountCents": refund["amountCents"], "amount": amount(refund["amountCents"]),
        "currency": state["currency"], "refundId": refund["refundId"], "reason": refund["reason"] or "operator_refund",
        "refundRequestId": refund["refundRequestId"], "partial": through < state["amountCents"],
        "refundedCents": through, "version": state.get("version") or 0})


def event_for(state: Row, now_ms: int) -> Event:
    """The event announcing the payment's current status (deterministic eventId)."""
    kind = EVENT_OF_STATUS[state["status"]]
    made_by = _refund_where(state, "refundId", state.get("refundId"))  # None: a cancellation's refund
    if kind == "PaymentRefunded" and made_by is not None:
        return refund_event(state, made_by, now_ms)
    data: dict[str, Any] = {"paymentId": state["paymentId"], "transactionId": transaction_id(state),
                            "orderId": state["orderId"],
                            "amountCents": state["amountCents"], "amount": amount(state["amountCents"]),
                            "currency": state["currency"]}
    if kind == "PaymentRefunded":
        # a cancellation's refund: what the operators' refunds left
        operators = sum(r["amountCents"] for r in state.get("refunds") or () if r["status"] == "refunded")
        left = state["amountCents"] - operators
        data.update(refundId=state["refundId"], reason="order_cancelled", amountCents=left, amount=amount(left),
                    refundRequestId=None, partial=False, refundedCents=state["amountCents"])
    else:
        data["customerId"] = state["customerId"]
        if kind == "PaymentFailed":
            data.update(errorCode=state["errorCode"] or "failed", errorMessage=state["errorMessage"] or "")
        else:
            data["status"] = state["status"]
    version = state.get("version") or 0
    data["version"] = version
    attempt = f"v{version}_" if version else ""
    return envelope(kind, f"evt_pay_{state['orderId']}_{attempt}{state['status']}", iso(now_ms), data)


def _refund_where(state: Row | None, field: str, value: str | None) -> PaymentRefund | None:
    """The operator's refund whose ``field`` is ``value`` (None: no such one, or no value to look for)."""
    if state is None or value is None:
        return None
    return next((r for r in state.get("refunds") or () if r.get(field) == value), None)
