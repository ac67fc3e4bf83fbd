"""What the gateway shows of a payment and the delivery date it promises."""

from __future__ import annotations

from typing import Any

from orderflow.gateway.presenters import estimated_delivery, present_payment

DAY_MS = 86_400_000


def payment(status: str, **fields: Any) -> dict[str, Any]:
    return {"orderId": "o1", "status": status, "paymentId": "pay_1", "amountCents": 2500, "currency": "EUR",
            "customerId": "c1", "refundId": None, "errorCode": None, "errorMessage": None, "createdAt": DAY_MS,
            "history": [], "paymentMethodId": "pm_card_4242", **fields}


def test_a_refunded_payment_was_captured_in_full_and_refunded_in_full() -> None:
    shown = present_payment(payment("refunded", refundId="ref_1"))
    assert (shown["amount"], shown["capturedAmount"], shown["refundedAmount"]) == (25.0, 25.0, 25.0)
    assert shown["createdAt"] == "1970-01-02T00:00:00.000Z"


def test_an_authorized_payment_has_captured_nothing_yet() -> None:
    shown = present_payment(payment("authorized"))
    assert (shown["capturedAmount"], shown["refundedAmount"], shown["error"]) == (0.0, 0.0, None)


def test_the_payment_method_shows_its_last_four_characters_only() -> None:
    assert present_payment(payment("captured"))["paymentMethod"] == {"type": "card", "last4": "4242"}
    assert "pm_card" not in str(present_payment(payment("captured")))


def test_a_failure_shows_its_code_and_message() -> None:
    shown = present_payment(payment("failed", errorCode="insufficient_funds", errorMessage="declined"))
    assert shown["error"] == {"code": "insufficient_funds", "message": "declined"}


def test_delivery_is_promised_days_after_placement_and_not_for_an_order_that_ended_undelivered() -> None:
    order: Any = {"status": "pending_payment", "createdAt": 3 * DAY_MS - 1}
    assert estimated_delivery(order, 5) == "1970-01-08"
    assert estimated_delivery({**order, "status": "rejected"}, 5) is None
