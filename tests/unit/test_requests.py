"""gateway.requests: HTTP body validation and its conversion into a PlaceOrder command."""

from __future__ import annotations

import json

import pytest

from orderflow.gateway.requests import PlaceOrderRequest, ValidationError, field_errors, preferred_wait, to_place_order
from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec

BODY = {
    "customerId": "cust_1",
    "items": [{"productId": "sku-1", "quantity": 2, "price": 10.5},
              {"productId": "sku-2", "quantity": 1}],
    "shippingAddress": {"street": "1 Main St", "city": "Springfield", "zipCode": "62701"},
    "paymentMethodId": "pm_visa",
    "currency": "EUR",
}


def parse(body: dict) -> PlaceOrderRequest:
    """Parse as the gateway does: from JSON text, so numbers arrive as JSON gives them."""
    return PlaceOrderRequest.model_validate(json.loads(json.dumps(body)))


def errors_of(body: dict) -> list[str]:
    with pytest.raises(ValidationError) as info:
        parse(body)
    return [e["field"] for e in field_errors(info.value)]


def with_line(**line) -> dict:
    return {**BODY, "items": [{"productId": "sku-1", "quantity": 1, **line}]}


def test_valid_body_parses():
    req = parse(BODY)
    assert (req.customerId, req.currency, len(req.items)) == ("cust_1", "EUR", 2)
    assert req.items[1].price is None


@pytest.mark.parametrize(("body", "field"), [
    ({**BODY, "items": []}, "items"),
    (with_line(quantity=0), "items.0.quantity"),
    (with_line(quantity=-3), "items.0.quantity"),
    (with_line(quantity=True), "items.0.quantity"),
    (with_line(quantity="2"), "items.0.quantity"),
    (with_line(price=1.005), "items.0.price"),
    (with_line(colour="red"), "items.0.colour"),
    ({**BODY, "coupon": "FREE"}, "coupon"),
    ({k: v for k, v in BODY.items() if k != "paymentMethodId"}, "paymentMethodId"),
    ({**BODY, "currency": "eur"}, "currency"),
    ({**BODY, "currency": "EURO"}, "currency"),
], ids=["empty-items", "quantity-0", "negative-quantity", "bool-quantity", "str-quantity",
        "3-decimal-price", "unknown-line-field", "unknown-field", "missing-paymentMethodId",
        "lowercase-currency", "long-currency"])
def test_invalid_body_names_the_bad_field(body, field):
    assert errors_of(body) == [field]


def test_to_place_order_converts_prices_to_cents():
    command = to_place_order(parse(BODY), "ord_1", 1_700_000_000_000, "idem-1")
    assert [line["priceCents"] for line in command["items"]] == [1050, None]
    assert (command["orderId"], command["idempotencyKey"]) == ("ord_1", "idem-1")


@pytest.mark.parametrize(("price", "cents"), [(0.1, 10), (19.99, 1999), (0.29, 29), (1000000, 100000000)])
def test_to_place_order_converts_float_prices_exactly(price, cents):
    command = to_place_order(parse(with_line(price=price)), "ord_1", 0, None)
    assert command["items"][0]["priceCents"] == cents


def test_place_order_command_encodes_with_the_place_order_schema():
    codec = Codec()
    command = to_place_order(parse(BODY), "ord_1", 1_700_000_000_000, None)
    decoded = codec.decode(codec.encode(catalog.ORDER_COMMANDS.default_schema, command))
    assert decoded.schema == "orderflow.v1.PlaceOrder"
    assert decoded.record["shippingAddress"] == {"street": "1 Main St", "city": "Springfield",
                                                 "state": "", "zipCode": "62701", "country": ""}
    assert decoded.record == command


@pytest.mark.parametrize(("prefer", "seconds"), [
    (None, 0.0), ("", 0.0), ("wait=2", 2.0), ("respond-async, wait=1.5", 1.5), ("WAIT = 3", 3.0),
    ("wait=600", 10.0), ("wait=-1", 0.0), ("wait=soon", 0.0), ("wait=nan", 0.0), ("return=minimal", 0.0),
    ('wait="4"', 4.0),
])
def test_a_preferred_wait_is_read_within_bounds_and_never_an_error(prefer: str | None, seconds: float) -> None:
    assert preferred_wait(prefer) == seconds
