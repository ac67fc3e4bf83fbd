"""tables.stock.line_event: the inventory service tells inventory.events of each order line it
reserved and each it gave back (seed 003's InventoryReserved), in the seeds' envelope."""

from __future__ import annotations

from orderflow.schemas.codec import Codec
from orderflow.tables import stock

CODEC = Codec()
AT = "2026-12-03T10:00:00.000Z"
RESERVE = {"orderId": "ord_1", "line": 1, "productId": "sku-1", "quantity": 2, "requestedPriceCents": None,
           "lineCount": 3}
RELEASE = {"orderId": "ord_1", "line": 1, "productId": "sku-1"}


def reserved_in(stock_on_hand: int):
    return stock.reserve({**stock.new_stock("sku-1"), "onHand": stock_on_hand}, None, RESERVE, 1250)


def test_a_reserved_line_is_announced_with_the_orders_line_count():
    decision = reserved_in(10)
    kind, event = stock.line_event("ReserveLine", RESERVE, decision.result, None, AT)
    assert (kind, event["eventId"], event["eventType"], event["version"]) == (
        "InventoryReserved", "evt_inv_ord_1_1_reserved", "InventoryReserved", "1.0")
    assert event["data"] == {"orderId": "ord_1", "productId": "sku-1", "line": 1, "quantity": 2,
                             "unitPriceCents": 1250, "unitPrice": 12.5, "lineCount": 3}
    assert CODEC.decode(CODEC.encode("orderflow.v1.InventoryReserved", event)).record == event


def test_a_rejected_line_is_not_announced():
    decision = reserved_in(1)
    assert decision.result["outcome"] == "rejected"
    assert stock.line_event("ReserveLine", RESERVE, decision.result, None, AT) is None


def test_released_units_are_announced_with_where_they_came_from():
    held = reserved_in(10)
    assert held.stock is not None and held.reservation is not None
    released = stock.release(held.stock, held.reservation, RELEASE)
    assert released.reservation is not None
    kind, event = stock.line_event("ReleaseLine", RELEASE, released.result,
                                   released.reservation["previousState"], AT)
    assert (kind, event["eventId"]) == ("InventoryReleased", "evt_inv_ord_1_1_released")
    assert (event["data"]["quantity"], event["data"]["releasedFrom"]) == (2, "reserved")
    assert CODEC.decode(CODEC.encode("orderflow.v1.InventoryReleased", event)).record == event


def test_a_release_of_a_line_never_reserved_gives_nothing_back_and_says_nothing():
    released = stock.release(None, None, RELEASE)
    assert stock.line_event("ReleaseLine", RELEASE, released.result, None, AT) is None


def test_a_sale_is_not_a_reservation_event():
    held = reserved_in(10)
    sold = stock.sell(held.stock, held.reservation, RELEASE)
    assert sold is not None
    assert stock.line_event("SellLine", RELEASE, sold.result, "reserved", AT) is None
