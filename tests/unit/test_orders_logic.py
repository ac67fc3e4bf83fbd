"""tables.orders: the pure logic that turns PlaceOrder commands into order rows."""

from __future__ import annotations

from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec
from orderflow.tables.orders import accept_place_order, new_order_state

NOW = 1_700_000_000_000
COMMAND = {
    "orderId": "ord_1", "customerId": "cust_1",
    "items": [{"productId": "sku-1", "quantity": 2, "priceCents": 1999},
              {"productId": "sku-2", "quantity": 1, "priceCents": None}],
    "shippingAddress": None, "paymentMethodId": "pm_visa", "currency": "EUR",
    "placedAt": 1_699_999_999_000, "idempotencyKey": None,
}


def test_new_order_is_pending_with_pending_lines_and_one_history_entry():
    row = new_order_state(COMMAND, NOW)
    assert (row["orderId"], row["customerId"], row["status"]) == ("ord_1", "cust_1", "pending")
    assert [line["status"] for line in row["items"]] == ["pending", "pending"]
    assert row["history"] == [{"status": "pending", "at": COMMAND["placedAt"], "reason": None}]
    assert row["createdAt"] == row["updatedAt"] == COMMAND["placedAt"]
    assert (row["currency"], row["paymentMethodId"]) == ("EUR", "pm_visa")


def test_new_order_copies_the_requested_prices_and_leaves_unit_prices_open():
    row = new_order_state(COMMAND, NOW)
    assert [line["requestedPriceCents"] for line in row["items"]] == [1999, None]
    assert [line["unitPriceCents"] for line in row["items"]] == [None, None]
    assert [(line["productId"], line["quantity"]) for line in row["items"]] == [("sku-1", 2), ("sku-2", 1)]


def test_command_without_placed_at_is_stamped_with_now():
    row = new_order_state({**COMMAND, "placedAt": 0}, NOW)
    assert row["createdAt"] == row["history"][0]["at"] == NOW


def test_first_place_order_creates_the_row():
    assert accept_place_order(None, COMMAND, NOW) == new_order_state(COMMAND, NOW)


def test_replayed_place_order_changes_nothing():
    existing = new_order_state(COMMAND, NOW)
    replay = {**COMMAND, "items": [{"productId": "sku-3", "quantity": 9, "priceCents": 1}]}
    assert accept_place_order(existing, replay, NOW + 1) is None


def test_new_row_encodes_with_the_table_schema_and_reads_back_unchanged():
    codec = Codec()
    row = new_order_state(COMMAND, NOW)
    decoded = codec.decode(codec.encode(catalog.ORDERS_TABLE.value_schema, row))
    assert decoded.schema == "orderflow.v1.OrderState"
    assert decoded.record == row
