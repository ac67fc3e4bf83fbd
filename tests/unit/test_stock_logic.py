"""tables.stock: reserving, releasing and selling order lines, and inventory adjustments."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec
from orderflow.tables import stock

CODEC = Codec()
PRICE = 1999  # the product's current unit price, as the price table gives it

Row = dict[str, Any]


def level(on_hand: int = 10, reserved: int = 0) -> Row:
    row = stock.new_stock("sku-1")
    row.update(onHand=on_hand, reserved=reserved)
    return row


def line(quantity: int = 2, requested: int | None = None, order_id: str = "ord_1", index: int = 0) -> dict[str, Any]:
    return {"orderId": order_id, "line": index, "productId": "sku-1", "quantity": quantity,
            "requestedPriceCents": requested}


def result(outcome: str, quantity: int = 2, price: int | None = 1999, reason: str | None = None) -> dict[str, Any]:
    return {"orderId": "ord_1", "line": 0, "productId": "sku-1", "quantity": quantity, "outcome": outcome,
            "unitPriceCents": price, "reason": reason}


def reserved(on_hand: int = 10, quantity: int = 2) -> tuple[Row, Row]:
    """The stock row and the reservation after reserving ``quantity`` units of line 0."""
    decision = stock.reserve(level(on_hand), None, line(quantity), PRICE)
    assert decision.stock is not None and decision.reservation is not None
    return decision.stock, decision.reservation


def restocked(quantity: int, adjustment_id: str = "adj_1") -> dict[str, Any]:
    return {"adjustmentId": adjustment_id, "productId": "sku-1", "quantity": quantity, "at": 0}


# --- reserve ---------------------------------------------------------------------------

def test_reserve_holds_the_units_when_available_stock_covers_the_line():
    before = level(on_hand=10, reserved=3)
    decision = stock.reserve(before, None, line(2), PRICE)
    assert decision.stock is not None
    assert (decision.stock["onHand"], decision.stock["reserved"]) == (10, 5)
    assert decision.reservation == {"state": "reserved", "quantity": 2, "unitPriceCents": 1999, "reason": None,
                                   "previousState": None, "history": []}
    assert decision.result == result("reserved")
    assert before == level(on_hand=10, reserved=3), "the row passed in was changed"


def test_reserve_of_exactly_the_available_units_succeeds():
    decision = stock.reserve(level(on_hand=5, reserved=3), None, line(2), PRICE)
    assert decision.result["outcome"] == "reserved"
    assert stock.available(decision.stock) == 0


@pytest.mark.parametrize("on_hand, already_reserved", [(1, 0), (5, 4), (0, 0)])
def test_reserve_beyond_the_available_units_is_rejected_as_out_of_stock(on_hand, already_reserved):
    decision = stock.reserve(level(on_hand, already_reserved), None, line(2), PRICE)
    assert decision.stock is None
    assert decision.reservation == {"state": "rejected", "quantity": 2, "previousState": None,
                                    "history": [], "unitPriceCents": 1999,
                                    "reason": "out_of_stock"}
    assert decision.result == result("rejected", reason="out_of_stock")


@pytest.mark.parametrize("quantity", [0, -1])
def test_reserve_of_no_units_is_rejected(quantity):
    decision = stock.reserve(level(), None, line(quantity), PRICE)
    assert decision.stock is None
    assert decision.result["outcome"] == "rejected"


def test_reserve_of_a_product_without_stock_row_is_rejected_as_unknown_product():
    decision = stock.reserve(None, None, line(2), PRICE)
    assert decision.stock is None
    assert decision.reservation == {"state": "rejected", "quantity": 2, "previousState": None,
                                    "history": [], "unitPriceCents": None,
                                    "reason": "unknown_product"}
    assert decision.result == result("rejected", price=None, reason="unknown_product")


def test_reserve_at_a_price_other_than_the_current_one_is_rejected_as_price_changed():
    decision = stock.reserve(level(), None, line(2, requested=1500), PRICE)
    assert decision.stock is None
    assert decision.reservation == {"state": "rejected", "quantity": 2, "previousState": None,
                                    "history": [], "unitPriceCents": 1999,
                                    "reason": "price_changed"}


@pytest.mark.parametrize("requested", [1999, None], ids=["same price", "no price asked"])
def test_reserve_accepts_the_current_price_or_none(requested):
    decision = stock.reserve(level(), None, line(2, requested=requested), PRICE)
    assert decision.result == result("reserved", price=1999)


def test_duplicate_reserve_resends_the_same_result_and_changes_nothing():
    first = stock.reserve(level(), None, line(2), PRICE)
    again = stock.reserve(first.stock, first.reservation, line(2), PRICE)
    assert (again.stock, again.reservation) == (None, None)
    assert again.result == first.result


def test_duplicate_reserve_of_a_rejected_line_stays_rejected_after_a_restock():
    first = stock.reserve(level(on_hand=0), None, line(2), PRICE)
    again = stock.reserve(level(on_hand=100), first.reservation, line(2), PRICE)
    assert (again.stock, again.reservation) == (None, None)
    assert again.result == result("rejected", reason="out_of_stock")


# --- release ---------------------------------------------------------------------------

def test_release_gives_the_reserved_units_back():
    row, reservation = reserved(quantity=2)
    decision = stock.release(row, reservation, line(2))
    assert decision.stock is not None
    assert (decision.stock["onHand"], decision.stock["reserved"]) == (10, 0)
    assert decision.reservation == {**reservation, "state": "released", "previousState": "reserved"}
    assert decision.result == result("released")


def test_release_is_idempotent():
    row, reservation = reserved()
    first = stock.release(row, reservation, line(2))
    again = stock.release(first.stock, first.reservation, line(2))
    assert (again.stock, again.reservation) == (None, None)
    assert again.result == first.result


def test_release_without_reservation_records_a_released_guard():
    decision = stock.release(level(), None, line(2))
    assert decision.stock is None
    assert decision.reservation == {"state": "released", "quantity": 0, "unitPriceCents": None, "reason": None,
                                   "previousState": None, "history": []}
    assert decision.result == result("released", quantity=0, price=None)


def test_reserve_after_a_release_guard_resends_released_and_takes_no_stock():
    guard = stock.release(level(), None, line(2)).reservation
    decision = stock.reserve(level(), guard, line(2), PRICE)
    assert (decision.stock, decision.reservation) == (None, None)
    assert decision.result["outcome"] == "released"


def test_release_of_a_rejected_line_only_resends_its_outcome():
    reservation = {"state": "rejected", "quantity": 2, "unitPriceCents": 1999, "reason": "out_of_stock"}
    decision = stock.release(level(), reservation, line(2))
    assert (decision.stock, decision.reservation) == (None, None)
    assert decision.result == result("rejected", reason="out_of_stock")


def test_release_of_a_sold_line_puts_its_units_back_on_hand():
    row, reservation = reserved(on_hand=10, quantity=3)
    sold = stock.sell(row, reservation, line(3))
    assert sold is not None and sold.stock is not None
    decision = stock.release(sold.stock, sold.reservation, line(3))
    assert decision.stock is not None
    assert (decision.stock["onHand"], decision.stock["reserved"]) == (10, 0)
    assert decision.reservation == {**reservation, "state": "released", "previousState": "sold"}
    assert decision.result == result("released", quantity=3)
    again = stock.release(decision.stock, decision.reservation, line(3))
    assert (again.stock, again.reservation) == (None, None)


# --- sell ------------------------------------------------------------------------------

def test_sell_lowers_on_hand_and_reserved():
    row, reservation = reserved(on_hand=10, quantity=3)
    decision = stock.sell(row, reservation, line(3))
    assert decision is not None and decision.stock is not None
    assert (decision.stock["onHand"], decision.stock["reserved"]) == (7, 0)
    assert stock.available(decision.stock) == stock.available(row)
    assert decision.reservation == {**reservation, "state": "sold", "previousState": "reserved"}
    assert decision.result == result("sold", quantity=3)


def test_sell_is_idempotent():
    row, reservation = reserved()
    first = stock.sell(row, reservation, line(2))
    assert first is not None
    again = stock.sell(first.stock, first.reservation, line(2))
    assert again is not None
    assert (again.stock, again.reservation) == (None, None)
    assert again.result == first.result


def test_sell_of_a_line_never_reserved_does_nothing():
    assert stock.sell(level(), None, line(2)) is None


def test_sell_of_a_released_line_sells_nothing():
    row, reservation = reserved()
    released = stock.release(row, reservation, line(2))
    decision = stock.sell(released.stock, released.reservation, line(2))
    assert decision is not None
    assert (decision.stock, decision.reservation) == (None, None)
    assert decision.result["outcome"] == "released"


# --- adjustments -----------------------------------------------------------------------

def test_restocked_adds_units():
    row = stock.adjust(level(on_hand=10), "Restocked", restocked(5))
    assert row is not None
    assert (row["onHand"], row["recentAdjustments"]) == (15, ["adj_1"])


def test_restocked_of_a_new_product_creates_its_row():
    row = stock.adjust(None, "Restocked", restocked(5))
    assert row == {**stock.new_stock("sku-1"), "onHand": 5, "recentAdjustments": ["adj_1"]}


@pytest.mark.parametrize("delta, on_hand", [(3, 13), (-4, 6), (-12, -2)])
def test_adjusted_adds_a_signed_delta(delta, on_hand):
    row = stock.adjust(level(on_hand=10), "Adjusted",
                       {"adjustmentId": "adj_1", "productId": "sku-1", "delta": delta, "reason": "damaged"})
    assert row is not None and row["onHand"] == on_hand


def test_stock_set_sets_on_hand():
    row = stock.adjust(level(on_hand=10), "StockSet", {"adjustmentId": "adj_1", "productId": "sku-1", "onHand": 3})
    assert row is not None and row["onHand"] == 3


def test_stock_set_below_reserved_leaves_available_negative_and_reservations_standing():
    row, reservation = reserved(on_hand=10, quantity=6)
    row = stock.adjust(row, "StockSet", {"adjustmentId": "adj_1", "productId": "sku-1", "onHand": 4})
    assert row is not None
    assert (row["onHand"], row["reserved"], stock.available(row)) == (4, 6, -2)
    assert stock.reserve(row, None, line(1, index=1), PRICE).result["reason"] == "out_of_stock"
    released = stock.release(row, reservation, line(6))
    assert released.stock is not None and stock.available(released.stock) == 4


@pytest.mark.parametrize("kind, msg", [
    ("Restocked", restocked(5)),
    ("Adjusted", {"adjustmentId": "adj_1", "productId": "sku-1", "delta": -1}),
    ("StockSet", {"adjustmentId": "adj_1", "productId": "sku-1", "onHand": 1}),
])
def test_adjustment_already_applied_changes_nothing(kind, msg):
    row = stock.adjust(level(), kind, msg)
    assert row is not None
    assert stock.adjust(row, kind, msg) is None
    assert stock.adjust(row, "Restocked", restocked(9, adjustment_id="adj_1")) is None


def test_recent_adjustments_keep_only_the_latest_ids():
    row: Row | None = level()
    for i in range(stock.RECENT_ADJUSTMENTS + 1):
        assert row is not None
        row = stock.adjust(row, "Restocked", restocked(1, adjustment_id=f"adj_{i}"))
    assert row is not None
    assert len(row["recentAdjustments"]) == stock.RECENT_ADJUSTMENTS
    assert row["recentAdjustments"][-1] == f"adj_{stock.RECENT_ADJUSTMENTS}"
    assert "adj_0" not in row["recentAdjustments"]


def test_adjust_refuses_a_message_that_is_not_an_adjustment():
    with pytest.raises(ValueError, match="not an inventory adjustment"):
        stock.adjust(level(), "PriceUpdated", {"adjustmentId": "x", "productId": "sku-1"})


def test_adjust_does_not_change_the_row_passed_in():
    before = level()
    snapshot = copy.deepcopy(before)
    stock.adjust(before, "Restocked", restocked(5))
    assert before == snapshot


# --- shapes ----------------------------------------------------------------------------

def test_rows_reservations_and_results_round_trip_through_their_schemas():
    row, reservation = reserved()
    sold = stock.sell(row, reservation, line(2))
    assert sold is not None
    samples = [
        (catalog.STOCK_TABLE.value_schema, stock.adjust(row, "Restocked", restocked(5))),
        (catalog.RESERVATIONS_TABLE.value_schema, reservation),
        (catalog.RESERVATIONS_TABLE.value_schema, stock.release(level(), None, line(2)).reservation),
        (catalog.RESERVATIONS_TABLE.value_schema, stock.reserve(None, None, line(2), 1).reservation),
        (catalog.STOCK_RESULTS.default_schema, sold.result),
        (catalog.STOCK_RESULTS.default_schema, stock.release(level(), None, line(2)).result),
        (catalog.STOCK_RESULTS.default_schema, stock.reserve(None, None, line(2), 1).result),
    ]
    for schema, record in samples:
        assert CODEC.decode(CODEC.encode(schema, record)).record == record


# --- crash repair ---------------------------------------------------------------------

def test_apply_change_replays_exactly_the_stock_change_of_each_line_change():
    row, reservation = reserved(on_hand=10, quantity=3)
    before = {**row, "reserved": 0}
    made = stock.stamped(reservation, 41)
    assert stock.apply_change(before, 3, stock.change_at(made, 41)) == row
    sold = stock.sell(row, made, line(3))
    sold_record = stock.stamped(sold.reservation, 57)
    assert stock.apply_change(row, 3, stock.change_at(sold_record, 57)) == sold.stock
    released = stock.release(sold.stock, sold_record, line(3))
    released_record = stock.stamped(released.reservation, 60)
    assert stock.apply_change(sold.stock, 3, stock.change_at(released_record, 60)) == released.stock
    rejected = stock.stamped({**reservation, "state": "rejected", "previousState": None}, 43)
    assert stock.apply_change(before, 3, stock.change_at(rejected, 43)) == before


def test_a_line_keeps_every_change_it_went_through_and_what_each_left():
    row, reservation = reserved(on_hand=10, quantity=3)
    made = stock.stamped(reservation, 41)
    sold = stock.stamped(stock.sell(row, made, line(3)).reservation, 57)
    assert [c["offset"] for c in sold["history"]] == [41, 57]
    assert stock.change_at(sold, 57) == {"offset": 57, "previousState": "reserved", "state": "sold"}
    # a replay of the reserve (41) answers what it said then, not what the line is now
    assert stock.as_changed_by(sold, stock.change_at(sold, 41))["state"] == "reserved"
    assert stock.change_at(sold, 50) is None and stock.change_at(None, 41) is None


def test_reserves_and_releases_are_answered_and_sells_are_not():
    assert [stock.answered(kind) for kind in ("ReserveLine", "ReleaseLine", "SellLine")] == [True, True, False]
