"""tables.validation.problems: what a well-formed ingress record can still get
wrong (no lines, impossible quantities and prices, empty ids), each named."""

from __future__ import annotations

from typing import Any

import pytest

from orderflow.schemas.codec import Codec
from orderflow.tables import validation
from orderflow.tables.validation import IDENT_PATTERN, MAX_LINES, MAX_PRICE_CENTS, MAX_QUANTITY, MAX_STOCK, problems

CODEC = Codec()


def line(product_id: str = "sku-1", quantity: int = 2, price: int | None = 1999) -> dict[str, Any]:
    return {"productId": product_id, "quantity": quantity, "priceCents": price}


def place_order(**changes: Any) -> dict[str, Any]:
    return {"orderId": "ord_1", "customerId": "cust_1", "items": [line(), line("sku-2", 1, None)],
            "shippingAddress": None, "paymentMethodId": "pm_visa", "currency": "EUR", "placedAt": 0,
            "idempotencyKey": None, **changes}


def well_formed(kind: str, record: dict[str, Any]) -> dict[str, Any]:
    """The record, after checking the schema accepts it: problems() is about what Avro cannot say."""
    CODEC.encode(f"orderflow.v1.{kind}", record)
    return record


# --- PlaceOrder ------------------------------------------------------------------------

def test_a_good_order_has_no_problems():
    assert problems("PlaceOrder", well_formed("PlaceOrder", place_order())) == []


def test_an_order_at_every_limit_has_no_problems():
    items = [line(f"sku-{i}", MAX_QUANTITY, MAX_PRICE_CENTS) for i in range(MAX_LINES - 1)] + [line("sku-x", 1, 0)]
    assert problems("PlaceOrder", well_formed("PlaceOrder", place_order(items=items))) == []


def test_an_order_without_lines_is_a_problem():
    found = problems("PlaceOrder", well_formed("PlaceOrder", place_order(items=[])))
    assert found == [f"items must hold 1 to {MAX_LINES} lines, not 0"]


def test_an_order_with_more_than_the_maximum_lines_is_a_problem():
    items = [line(f"sku-{i}") for i in range(MAX_LINES + 1)]
    found = problems("PlaceOrder", well_formed("PlaceOrder", place_order(items=items)))
    assert found == [f"items must hold 1 to {MAX_LINES} lines, not {MAX_LINES + 1}"]


@pytest.mark.parametrize("quantity", [0, -1, MAX_QUANTITY + 1, 2**31 - 1])
def test_a_line_quantity_outside_one_to_the_maximum_is_named_by_its_line(quantity: int):
    items = [line(), line("sku-2", quantity)]
    found = problems("PlaceOrder", well_formed("PlaceOrder", place_order(items=items)))
    assert found == [f"items.1.quantity must be 1 to {MAX_QUANTITY}, not {quantity}"]


@pytest.mark.parametrize("price", [-1, MAX_PRICE_CENTS + 1])
def test_a_line_price_out_of_range_is_named_by_its_line(price: int):
    found = problems("PlaceOrder", well_formed("PlaceOrder", place_order(items=[line(price=price)])))
    assert found == [f"items.0.priceCents out of range: {price}"]


def test_a_line_without_a_price_accepts_the_current_one():
    assert problems("PlaceOrder", place_order(items=[line(price=None)])) == []


def test_a_line_with_an_empty_product_id_is_a_problem():
    found = problems("PlaceOrder", well_formed("PlaceOrder", place_order(items=[line(), line("")])))
    assert found == [f"items.1.productId must match {IDENT_PATTERN}"]


@pytest.mark.parametrize("field", ["orderId", "customerId", "paymentMethodId"])
@pytest.mark.parametrize("value", ["", "   ", "a/b", "x" * 65])
def test_an_id_that_could_not_be_a_key_part_is_named(field: str, value: str):
    found = problems("PlaceOrder", well_formed("PlaceOrder", place_order(**{field: value})))
    assert found == [f"{field} must match {IDENT_PATTERN}"]


def test_every_problem_of_an_order_is_listed():
    bad = place_order(orderId="", customerId="", items=[line("", 0, -5)])
    found = problems("PlaceOrder", well_formed("PlaceOrder", bad))
    assert found == [f"orderId must match {IDENT_PATTERN}", f"customerId must match {IDENT_PATTERN}",
                     f"items.0.productId must match {IDENT_PATTERN}",
                     f"items.0.quantity must be 1 to {MAX_QUANTITY}, not 0", "items.0.priceCents out of range: -5"]


# --- inventory and prices --------------------------------------------------------------

ADJUSTMENTS = {
    "Restocked": ({"adjustmentId": "adj_1", "productId": "sku-1", "at": 0}, "quantity", 0, MAX_STOCK),
    "StockSet": ({"adjustmentId": "adj_1", "productId": "sku-1", "at": 0}, "onHand", 0, MAX_STOCK),
    "Adjusted": ({"adjustmentId": "adj_1", "productId": "sku-1", "reason": "damaged", "at": 0}, "delta",
                 -MAX_STOCK, MAX_STOCK),
    "PriceUpdated": ({"productId": "sku-1", "currency": "EUR", "effectiveAt": 1}, "priceCents", 0, MAX_PRICE_CENTS),
    "LowStockThresholdSet": ({"adjustmentId": "adj_1", "productId": "sku-1", "at": 0}, "threshold", 0, MAX_STOCK),
}


@pytest.mark.parametrize("kind", ["Restocked", "StockSet", "PriceUpdated", "LowStockThresholdSet"])
def test_a_negative_value_is_a_problem(kind: str):
    base, field, low, high = ADJUSTMENTS[kind]
    found = problems(kind, well_formed(kind, {**base, field: -1}))
    assert found == [f"{field} must be {low} to {high}, not -1"]


@pytest.mark.parametrize("kind", sorted(ADJUSTMENTS))
def test_a_value_above_the_maximum_is_a_problem(kind: str):
    base, field, _, high = ADJUSTMENTS[kind]
    found = problems(kind, well_formed(kind, {**base, field: high + 1}))
    assert len(found) == 1 and found[0].startswith(f"{field} must be")


@pytest.mark.parametrize("kind", sorted(ADJUSTMENTS))
def test_values_at_both_limits_have_no_problems(kind: str):
    base, field, low, high = ADJUSTMENTS[kind]
    assert problems(kind, well_formed(kind, {**base, field: low})) == []
    assert problems(kind, well_formed(kind, {**base, field: high})) == []


def test_a_negative_adjustment_is_a_correction_not_a_problem():
    base, field, _, _ = ADJUSTMENTS["Adjusted"]
    assert problems("Adjusted", well_formed("Adjusted", {**base, field: -3})) == []


def test_a_zero_threshold_turns_low_stock_warnings_off_and_is_allowed():
    base, field, _, _ = ADJUSTMENTS["LowStockThresholdSet"]
    assert problems("LowStockThresholdSet", {**base, field: 0}) == []


# --- kinds without checks --------------------------------------------------------------

@pytest.mark.parametrize(("kind", "record"), [
    ("CancelOrder", {"orderId": "ord_1", "reason": None, "requestedAt": 0}),
    ("CreateCustomer", {"customerId": "cust_1", "email": "ada@example.com"}),
    ("CheckCustomer", {"orderId": "ord_1", "customerId": "cust_1", "amountCents": -1, "at": 0}),
    ("SomethingNew", {}),
])
def test_kinds_without_checks_have_no_problems(kind: str, record: dict[str, Any]):
    assert problems(kind, record) == []


def test_the_checked_kinds_are_the_ingress_commands_with_limits():
    assert set(validation.CHECKS) == {"PlaceOrder", "CreateCustomer", "UpdateCustomer", *ADJUSTMENTS}
