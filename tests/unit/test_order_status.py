"""tables.order_status: the status sets and the cancellation rule the gateway
asks before it writes a CancelOrder, against the saga's own decision."""

from __future__ import annotations

import pytest

from orderflow.tables import order_status as st
from orderflow.tables import orders as saga

CTX = saga.Context(now_ms=1_700_000_000_000, cause="orders.commands/0/1", payment_timeout_ms=900_000)
PLACE = {"orderId": "ord_1", "customerId": "cust_1", "items": [{"productId": "sku-1", "quantity": 1}],
         "paymentMethodId": "pm_1"}


@pytest.mark.parametrize(("status", "cancellable"), [
    ("pending", True), ("pending_payment", True), ("confirmed", True),
    ("shipped", False), ("delivered", False), ("rejected", False), ("payment_failed", False),
    ("cancelled", False),
])
def test_an_order_can_be_cancelled_until_it_ships_or_ends(status: str, cancellable: bool) -> None:
    assert st.can_cancel(status) is cancellable


@pytest.mark.parametrize("status", sorted(st.ORDER_TRANSITIONS))
def test_can_cancel_agrees_with_the_sagas_cancel_decision(status: str) -> None:
    row = {**saga.new_order_state(PLACE, CTX), "status": status}
    decision = saga.decide(row, "CancelOrder", {"orderId": "ord_1", "reason": None, "requestedAt": 0}, CTX)
    cancels = decision.row is not None and decision.row["status"] == st.CANCELLED
    assert cancels is st.can_cancel(status)


def test_terminal_statuses_are_those_without_a_next_status() -> None:
    assert {"delivered", "rejected", "payment_failed", "cancelled"} == st.TERMINAL


def test_every_order_is_in_progress_or_has_an_outcome_first() -> None:
    assert {"pending", "pending_payment"} == st.IN_PROGRESS
    assert {"confirmed", "rejected", "payment_failed", "cancelled"} == st.OUTCOMES
    firsts = set().union(*(st.ORDER_TRANSITIONS[s] for s in st.IN_PROGRESS)) - st.IN_PROGRESS
    assert firsts == st.OUTCOMES


@pytest.mark.parametrize(("order", "shipment", "shown"), [
    ("none", "processing", "processing"),
    ("shipped", "processing", "shipped"),  # another delivery service's Shipped, ahead of ours
    ("shipped", "in_transit", "in_transit"),
    ("delivered", "in_transit", "delivered"),
    ("none", "cancelled", "cancelled"),
    ("cancelled", "processing", "cancelled"),
])
def test_the_order_read_shows_the_further_shipping_status(order: str, shipment: str, shown: str) -> None:
    assert st.further_shipping(order, shipment) == shown
