"""tables.payments: the next provider call for each payment state, and the events it tells."""

from __future__ import annotations

from typing import Any

import pytest

from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec
from orderflow.tables import orders as saga
from orderflow.tables import payments

CODEC = Codec()
NOW = 1_700_000_000_000
TIMEOUT_MS = 15 * 60 * 1000

Row = dict[str, Any]


def request_payment(requested_at: int = NOW) -> dict[str, Any]:
    return {"orderId": "ord_1", "customerId": "cust_1", "amountCents": 4498, "currency": "EUR",
            "paymentMethodId": "pm_visa", "requestedAt": requested_at}


def refund_payment() -> dict[str, Any]:
    return {"orderId": "ord_1", "amountCents": 4498, "currency": "EUR", "reason": "order_cancelled",
            "requestedAt": NOW}


def payment_in(status: str) -> Row:
    state = payments.new_payment(request_payment())
    if status in ("authorized", "captured", "refunded"):
        state = payments.after_authorize(state, "txn_1")  # the provider's id
    if status in ("captured", "refunded"):
        state = payments.after_capture(state)
    if status == "refunded":
        state = payments.after_refund(state, "ref_1")
    if status == "failed":
        state = payments.after_failure(state, "card_declined", "insufficient funds")
    assert state["status"] == status
    return state


def next_step(state: Row | None, kind: str, now: int = NOW) -> str:
    cmd = request_payment() if kind == "RequestPayment" else refund_payment()
    return payments.next_step(state, kind, cmd, now, TIMEOUT_MS)


# --- next_step -------------------------------------------------------------------------

@pytest.mark.parametrize("status, step", [
    ("none", payments.AUTHORIZE),
    ("authorized", payments.CAPTURE),
    ("captured", payments.RESEND),
    ("failed", payments.RESEND),
    ("refunded", payments.RESEND),
])
def test_next_step_for_a_payment_request(status, step):
    assert next_step(payment_in(status), "RequestPayment") == step


@pytest.mark.parametrize("status, step", [
    ("none", payments.NOTHING),
    ("authorized", payments.NOTHING),
    ("captured", payments.REFUND),
    ("failed", payments.NOTHING),
    ("refunded", payments.RESEND),
])
def test_next_step_for_a_refund_request(status, step):
    assert next_step(payment_in(status), "RefundPayment") == step


def test_payment_request_without_a_row_is_authorized():
    assert next_step(None, "RequestPayment") == payments.AUTHORIZE


def test_refund_request_without_a_row_does_nothing():
    assert next_step(None, "RefundPayment") == payments.NOTHING


@pytest.mark.parametrize("age_ms, step", [(0, payments.AUTHORIZE), (TIMEOUT_MS, payments.AUTHORIZE),
                                          (TIMEOUT_MS + 1, payments.EXPIRE)])
def test_request_older_than_the_payment_timeout_expires_instead_of_charging(age_ms, step):
    assert next_step(None, "RequestPayment", now=NOW + age_ms) == step
    assert next_step(payment_in("none"), "RequestPayment", now=NOW + age_ms) == step


def test_expired_request_fails_with_the_error_code_the_order_saga_treats_as_a_timeout():
    assert payments.EXPIRED == saga.EXPIRED


def test_old_request_of_an_authorized_payment_still_captures():
    assert next_step(payment_in("authorized"), "RequestPayment", now=NOW + 10 * TIMEOUT_MS) == payments.CAPTURE


# --- an order settled by another payment service ----------------------------------------

def order_row(status: str, payment_status: str, payment_id: str | None) -> Row:
    """The order as the saga stored it: only what the payment decision reads."""
    return {"orderId": "ord_1", "status": status, "paymentStatus": payment_status, "paymentId": payment_id}


def capture_step(order: Row | None) -> str:
    return payments.next_step(payment_in("authorized"), "RequestPayment", request_payment(), NOW, TIMEOUT_MS,
                              order)


@pytest.mark.parametrize("order", [
    None,  # not at hand: as before, capture
    order_row("pending_payment", "pending", None),
    order_row("pending_payment", "authorized", "pay_ord_1"),
    # settled under our own payment id: a replay after a crash lost our row; capturing again is idempotent
    order_row("confirmed", "captured", "pay_ord_1"),
], ids=["unknown", "waiting", "our-authorization-applied", "settled-by-us"])
def test_authorized_payment_of_an_order_still_ours_to_settle_is_captured(order):
    assert capture_step(order) == payments.CAPTURE


@pytest.mark.parametrize("order", [
    order_row("confirmed", "captured", "pay_ext_1"),
    order_row("payment_failed", "failed", "pay_ext_1"),
    order_row("payment_failed", "failed", None),
    order_row("cancelled", "pending", None),
], ids=["paid-elsewhere", "failed-elsewhere", "failed-elsewhere-without-id", "cancelled-before-our-hold-was-seen"])
def test_authorized_payment_of_an_order_settled_otherwise_is_not_captured(order):
    assert capture_step(order) == payments.SETTLED_ELSEWHERE


def test_an_order_settled_elsewhere_still_gets_its_first_authorization_request():
    # asked with the same idempotency key, it returns our earlier payment after a crash, so the
    # payment id can tell ours from another service's before anything is captured
    order = order_row("confirmed", "captured", "pay_ext_1")
    assert payments.next_step(None, "RequestPayment", request_payment(), NOW, TIMEOUT_MS, order) == payments.AUTHORIZE


# --- rows ------------------------------------------------------------------------------

def test_new_payment_takes_the_request_amount_and_nothing_is_done_yet():
    assert payments.new_payment(request_payment()) == {
        "orderId": "ord_1", "status": "none", "paymentId": "pay_ord_1", "transactionId": None,
        "amountCents": 4498, "currency": "EUR",
        "customerId": "cust_1", "refundId": None, "errorCode": None, "errorMessage": None,
        "createdAt": 0, "history": [], "refundedCents": 0, "refunds": [], "version": 0}


def test_each_step_records_what_the_provider_confirmed():
    authorized = payment_in("authorized")
    assert (authorized["paymentId"], authorized["transactionId"]) == ("pay_ord_1", "txn_1")
    assert payment_in("refunded")["refundId"] == "ref_1"
    failed = payment_in("failed")
    assert (failed["errorCode"], failed["errorMessage"]) == ("card_declined", "insufficient funds")


def test_steps_do_not_change_the_row_passed_in():
    state = payment_in("none")
    payments.after_authorize(state, "txn_1")
    assert state["status"] == "none" and state["transactionId"] is None


@pytest.mark.parametrize("status", ["none", "authorized", "captured", "failed", "refunded"])
def test_payment_rows_round_trip_through_the_payment_state_schema(status):
    state = payment_in(status)
    assert CODEC.decode(CODEC.encode(catalog.PAYMENTS_TABLE.value_schema, state)).record == state


# --- events ----------------------------------------------------------------------------

@pytest.mark.parametrize("status, kind", [("authorized", "PaymentAuthorized"), ("captured", "PaymentCompleted"),
                                          ("failed", "PaymentFailed"), ("refunded", "PaymentRefunded")])
def test_event_for_each_status_has_its_kind_and_a_deterministic_id(status, kind):
    event_kind, event = payments.event_for(payment_in(status), NOW)
    assert (event_kind, event["eventType"], event["version"]) == (kind, kind, "1.0")
    assert event["eventId"] == f"evt_pay_ord_1_{status}"
    assert payments.event_for(payment_in(status), NOW + 60_000)[1]["eventId"] == event["eventId"]
    assert event["timestamp"] == "2023-11-14T22:13:20.000Z"
    assert (event["data"]["orderId"], event["data"]["amountCents"], event["data"]["currency"]) == \
        ("ord_1", 4498, "EUR")


def test_authorized_and_completed_events_carry_the_payment_and_its_status():
    for status in ("authorized", "captured"):
        _, event = payments.event_for(payment_in(status), NOW)
        assert event["data"] == {"paymentId": "pay_ord_1", "transactionId": "txn_1", "orderId": "ord_1",
                                 "amountCents": 4498, "amount": 44.98, "currency": "EUR", "customerId": "cust_1",
                                 "status": status, "version": 0}


def test_failed_event_carries_the_error():
    _, event = payments.event_for(payment_in("failed"), NOW)
    assert (event["data"]["errorCode"], event["data"]["errorMessage"]) == ("card_declined", "insufficient funds")
    assert (event["data"]["paymentId"], event["data"]["transactionId"]) == ("pay_ord_1", None)


def test_failed_event_without_error_details_still_names_a_code():
    state = {**payment_in("failed"), "errorCode": None, "errorMessage": None}
    _, event = payments.event_for(state, NOW)
    assert (event["data"]["errorCode"], event["data"]["errorMessage"]) == ("failed", "")


def test_refunded_event_carries_the_refund():
    _, event = payments.event_for(payment_in("refunded"), NOW)
    assert event["data"] == {"paymentId": "pay_ord_1", "transactionId": "txn_1", "orderId": "ord_1",
                             "amountCents": 4498, "amount": 44.98, "currency": "EUR", "refundId": "ref_1",
                             "reason": "order_cancelled", "refundRequestId": None, "partial": False,
                             "refundedCents": 4498, "version": 0}


def test_event_ids_differ_between_statuses_and_orders():
    ids = {payments.event_for(payment_in(s), NOW)[1]["eventId"] for s in ("authorized", "captured", "refunded")}
    other = {**payment_in("captured"), "orderId": "ord_2"}
    ids.add(payments.event_for(other, NOW)[1]["eventId"])
    assert len(ids) == 4


def test_there_is_no_event_for_a_payment_not_yet_started():
    with pytest.raises(KeyError):
        payments.event_for(payment_in("none"), NOW)


@pytest.mark.parametrize("status", ["authorized", "captured", "failed", "refunded"])
def test_every_event_round_trips_through_its_schema(status):
    kind, event = payments.event_for(payment_in(status), NOW)
    assert kind in {name.rsplit(".", 1)[1] for name in catalog.PAYMENT_EVENTS.value_schemas}
    decoded = CODEC.decode(CODEC.encode(f"orderflow.v1.{kind}", event))
    assert (decoded.schema, decoded.record) == (f"orderflow.v1.{kind}", event)


def test_requests_these_tests_use_match_their_schemas():
    CODEC.encode("orderflow.v1.RequestPayment", request_payment())
    CODEC.encode("orderflow.v1.RefundPayment", refund_payment())


def test_each_status_a_payment_reaches_is_kept_in_its_history_once() -> None:
    created = payments.new_payment({"orderId": "o1", "customerId": "c1", "amountCents": 500, "currency": "EUR",
                                 "paymentMethodId": "pm_1", "requestedAt": 1})
    authorized = payments.with_history(None, payments.after_authorize(created, "pay_1"), now_ms=10)
    again = payments.with_history(authorized, authorized, now_ms=11)  # a replay writes the same status
    captured = payments.with_history(again, payments.after_capture(again), now_ms=12)
    assert [(h["status"], h["at"]) for h in captured["history"]] == [("authorized", 10), ("captured", 12)]
    assert captured["createdAt"] == 10


def test_a_failure_keeps_its_code_in_the_history() -> None:
    created = payments.new_payment({"orderId": "o1", "customerId": "c1", "amountCents": 500, "currency": "EUR",
                                 "paymentMethodId": "pm_1", "requestedAt": 1})
    failed = payments.with_history(None, payments.after_failure(created, "insufficient_funds", "declined"), now_ms=5)
    assert failed["history"] == [{"status": "failed", "at": 5, "reason": "insufficient_funds"}]


def test_a_payment_id_names_its_order_and_the_provider_id_is_kept_apart() -> None:
    assert payments.payment_id_of("ord_1") == "pay_ord_1"
    assert payments.order_id_of("pay_ord_1") == "ord_1"
    assert payments.order_id_of("pay_") is None and payments.order_id_of("txn_1") is None
    # a row from before transactionId: the provider's id was its paymentId
    old = {**payment_in("captured"), "paymentId": "pay_3f9c", "transactionId": None}
    assert payments.transaction_id(old) == "pay_3f9c"
    assert payments.transaction_id(payment_in("none")) is None
