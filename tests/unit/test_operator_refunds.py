"""tables.payments: an operator's refunds, in full or in part, once per refundRequestId;
and what the order saga makes of a partial refund."""

from __future__ import annotations

from typing import Any

import pytest

from orderflow.schemas.codec import Codec
from orderflow.tables import orders as saga
from orderflow.tables import payments
from tests.unit.test_payments_logic import NOW, TIMEOUT_MS, payment_in, refund_payment

CODEC = Codec()


def issue(amount_cents: int | None, request_id: str = "rfd_1") -> dict[str, Any]:
    return {"orderId": "ord_1", "refundRequestId": request_id, "amountCents": amount_cents,
            "reason": "damaged", "requestedBy": "ops", "requestedAt": NOW}


def step(state, cmd, kind: str = "IssueRefund") -> str:
    return payments.next_step(state, kind, cmd, NOW, TIMEOUT_MS)


def refunded(state, cmd):
    assert step(state, cmd) == payments.REFUND_PART
    return payments.after_operator_refund(state, cmd, f"ref_{cmd['refundRequestId']}", NOW)


def test_a_part_refunded_leaves_the_rest_refundable():
    part = refunded(payment_in("captured"), issue(1000))
    assert (part["status"], part["refundedCents"], payments.left_to_refund(part)) == ("partially_refunded", 1000,
                                                                                      3498)
    assert part["refunds"][0] | {"at": 0} == {"refundRequestId": "rfd_1", "status": "refunded", "amountCents": 1000,
                                              "reason": "damaged", "refundId": "ref_rfd_1", "error": None,
                                              "requestedBy": "ops", "at": 0}


def test_parts_that_add_up_to_the_payment_make_it_refunded():
    state = refunded(refunded(payment_in("captured"), issue(1000)), issue(None, "rfd_2"))
    assert (state["status"], state["refundedCents"]) == ("refunded", 4498)
    assert [r["amountCents"] for r in state["refunds"]] == [1000, 3498]


def test_a_replayed_request_is_answered_not_refunded_again():
    state = refunded(payment_in("captured"), issue(1000))
    assert step(state, issue(1000)) == payments.RESEND_REFUND
    assert step(state, issue(1000, "rfd_2")) == payments.REFUND_PART


@pytest.mark.parametrize("status, amount, why", [
    ("authorized", 100, "the payment is authorized, not captured"),
    ("failed", 100, "the payment is failed, not captured"),
    ("refunded", None, "the payment is refunded, not captured"),
    ("captured", 4499, "the refund (4499 cents) exceeds the 4498 cents left of the captured amount"),
    ("captured", 0, "a refund must be for more than 0"),
])
def test_a_refund_that_cannot_be_made_says_why(status, amount, why):
    state = payment_in(status)
    assert payments.refund_refusal(state, issue(amount)) == why
    assert step(state, issue(amount)) == payments.REFUSE_REFUND


def test_a_refused_refund_is_recorded_and_a_replay_changes_nothing():
    state = payment_in("captured")
    refused = payments.after_refund_refused(state, issue(9999), "too much", NOW)
    assert (refused["status"], refused["refundedCents"]) == ("captured", 0)
    assert refused["refunds"][0]["status"] == "refused" and refused["refunds"][0]["error"] == "too much"
    assert step(refused, issue(9999)) == payments.NOTHING


def test_a_cancellation_refunds_what_the_operator_left_and_says_so():
    part = refunded(payment_in("captured"), issue(1000))
    assert step(part, refund_payment(), "RefundPayment") == payments.REFUND
    done = payments.after_refund(part, "ref_cancel")
    _, event = payments.event_for(done, NOW)
    assert (event["eventId"], event["data"]["amountCents"], event["data"]["partial"]) == (
        "evt_pay_ord_1_refunded", 3498, False)


def test_each_refund_is_announced_under_its_own_event_id():
    first = refunded(payment_in("captured"), issue(1000))
    both = refunded(first, issue(500, "rfd_2"))
    kind, event = payments.event_for(both, NOW)
    assert kind == "PaymentRefunded"
    assert event["eventId"] == "evt_pay_ord_1_rfd_2"
    assert {k: event["data"][k] for k in ("amountCents", "partial", "refundedCents", "refundRequestId")} == {
        "amountCents": 500, "partial": True, "refundedCents": 1500, "refundRequestId": "rfd_2"}
    _, earlier = payments.refund_event(both, both["refunds"][0], NOW)
    assert (earlier["eventId"], earlier["data"]["refundedCents"]) == ("evt_pay_ord_1_rfd_1", 1000)
    assert CODEC.decode(CODEC.encode("orderflow.v1.PaymentRefunded", event)).record == event


def _confirmed_order() -> dict[str, Any]:
    from tests.support.samples import SAMPLES
    return {**SAMPLES["orderflow.v1.OrderState"], "status": "confirmed", "paymentStatus": "captured",
            "paymentVersion": 0, "change": None}


def test_the_order_shows_a_partial_refund_then_the_full_one():
    ctx = saga.Context(now_ms=NOW, cause="test", payment_timeout_ms=TIMEOUT_MS)
    state = refunded(payment_in("captured"), issue(1000))
    part = payments.refund_event(state, state["refunds"][0], NOW)[1]
    after = saga.decide(_confirmed_order(), "PaymentRefunded", part, ctx).row
    assert after is not None and (after["status"], after["paymentStatus"]) == ("confirmed", "partially_refunded")
    full = {**part, "data": {**part["data"], "partial": False}}
    final = saga.decide(after, "PaymentRefunded", full, ctx).row
    assert final is not None and final["paymentStatus"] == "refunded"


def test_a_partially_refunded_order_that_is_cancelled_asks_for_the_rest():
    order = {**_confirmed_order(), "paymentStatus": "partially_refunded", "status": "cancelled"}
    assert saga.Refund() in saga.effects(order)
