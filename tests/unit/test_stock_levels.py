"""tables.stock.level_events: the inventory events a change of a stock row
announces (LowStock, OutOfStock, BackInStock once per crossing of a band, and
StockShortage once when more is reserved than is on hand)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as hs

from orderflow.schemas.codec import Codec
from orderflow.tables import stock

CODEC = Codec()
THRESHOLD = 5  # the deployment's default: available below 5 is low
AT = "2023-11-14T22:13:20.000Z"
CAUSE = "inventory.adjustments/2/41"
BAND_EVENTS = frozenset({"LowStock", "OutOfStock", "BackInStock"})

Row = dict[str, Any]


def level(on_hand: int, reserved: int = 0, threshold: int | None = None) -> Row:
    row = stock.new_stock("sku-1")
    row.update(onHand=on_hand, reserved=reserved, lowStockThreshold=threshold)
    return row


def kinds(old: Row | None, new: Row, default: int = THRESHOLD, cause: str = CAUSE) -> list[str]:
    return [kind for kind, _ in stock.level_events(old, new, default, cause, AT)]


# Available units in each band with the default threshold.
OK, LOW, OUT = 8, 2, 0


# --- bands -----------------------------------------------------------------------------

@pytest.mark.parametrize("on_hand", [0, 1, 4, 5, 100])
def test_a_product_seen_for_the_first_time_announces_nothing(on_hand: int):
    assert stock.level_events(None, level(on_hand), THRESHOLD, CAUSE, AT) == []


def test_first_sighting_with_more_reserved_than_on_hand_announces_nothing():
    assert kinds(None, level(1, reserved=3)) == []


def test_falling_from_ok_to_low_announces_low_stock():
    assert kinds(level(OK), level(LOW)) == ["LowStock"]


def test_falling_to_one_below_the_threshold_is_low():
    assert kinds(level(THRESHOLD), level(THRESHOLD - 1)) == ["LowStock"]


def test_moving_within_low_announces_nothing():
    assert kinds(level(4), level(1)) == []
    assert kinds(level(1), level(4)) == []


def test_moving_within_ok_announces_nothing():
    assert kinds(level(50), level(THRESHOLD)) == []


@pytest.mark.parametrize("before", [OK, LOW], ids=["from_ok", "from_low"])
def test_reaching_zero_available_announces_out_of_stock(before: int):
    assert kinds(level(before), level(OUT)) == ["OutOfStock"]


def test_reservations_taking_the_last_units_announce_out_of_stock():
    assert kinds(level(3, reserved=1), level(3, reserved=3)) == ["OutOfStock"]


def test_moving_within_out_announces_nothing():
    assert kinds(level(0), level(2, reserved=2)) == []


@pytest.mark.parametrize("after", [LOW, OK], ids=["to_low", "to_ok"])
def test_coming_back_from_out_announces_back_in_stock(after: int):
    assert kinds(level(OUT), level(after)) == ["BackInStock"]


def test_rising_from_low_to_ok_announces_nothing():
    assert kinds(level(LOW), level(OK)) == []


def test_a_per_product_threshold_overrides_the_default():
    # 8 available: ok by the default of 5, low under the product's own 10
    assert kinds(level(20, threshold=10), level(8, threshold=10)) == ["LowStock"]
    assert kinds(level(20), level(8)) == []
    # 3 available: low by the default, ok under the product's own 2
    assert kinds(level(20, threshold=2), level(3, threshold=2)) == []


def test_raising_the_products_threshold_above_the_level_announces_low_stock():
    before = level(8)
    after = stock.adjust(before, "LowStockThresholdSet",
                         {"adjustmentId": "adj_t", "productId": "sku-1", "threshold": 10, "at": 0})
    assert after is not None and after["lowStockThreshold"] == 10
    events = stock.level_events(before, after, THRESHOLD, CAUSE, AT)
    assert [kind for kind, _ in events] == ["LowStock"]
    assert events[0][1]["data"]["threshold"] == 10


def test_event_data_carries_the_new_level_and_the_threshold_in_force():
    events = stock.level_events(level(10, reserved=1), level(10, reserved=7), THRESHOLD, CAUSE, AT)
    assert events == [("LowStock", {
        "eventId": f"evt_sku-1_LowStock_{CAUSE}", "eventType": "LowStock", "timestamp": AT, "version": "1.0",
        "data": {"productId": "sku-1", "onHand": 10, "reserved": 7, "available": 3, "threshold": THRESHOLD}})]


# --- shortage --------------------------------------------------------------------------

def test_on_hand_falling_below_reserved_announces_a_shortage_and_out_of_stock():
    events = stock.level_events(level(10, reserved=4), level(3, reserved=4), THRESHOLD, CAUSE, AT)
    assert [kind for kind, _ in events] == ["OutOfStock", "StockShortage"]
    assert events[1][1]["data"] == {"productId": "sku-1", "onHand": 3, "reserved": 4, "available": -1,
                                    "threshold": THRESHOLD}


def test_a_shortage_that_continues_is_not_announced_again():
    assert kinds(level(3, reserved=4), level(2, reserved=4)) == []
    assert kinds(level(2, reserved=4), level(2, reserved=6)) == []


def test_on_hand_equal_to_reserved_is_no_shortage():
    assert "StockShortage" not in kinds(level(10, reserved=4), level(4, reserved=4))


def test_a_new_shortage_after_recovering_is_announced_again():
    assert kinds(level(3, reserved=4), level(4, reserved=4)) == []
    assert "StockShortage" in kinds(level(4, reserved=4), level(3, reserved=4))


# --- identities and shapes -------------------------------------------------------------

def test_event_ids_are_deterministic_from_the_product_kind_and_cause():
    first = stock.level_events(level(10, reserved=4), level(3, reserved=4), THRESHOLD, CAUSE, AT)
    again = stock.level_events(level(10, reserved=4), level(3, reserved=4), THRESHOLD, CAUSE, "2030-01-01T00:00:00Z")
    assert [e["eventId"] for _, e in first] == [e["eventId"] for _, e in again] == [
        f"evt_sku-1_OutOfStock_{CAUSE}", f"evt_sku-1_StockShortage_{CAUSE}"]
    other = stock.level_events(level(10, reserved=4), level(3, reserved=4), THRESHOLD, "stock.commands/0/7", AT)
    assert {e["eventId"] for _, e in other}.isdisjoint(e["eventId"] for _, e in first)


@pytest.mark.parametrize(("old", "new"), [
    (level(OK), level(LOW)), (level(LOW), level(OUT)), (level(OUT), level(OK)), (level(10, reserved=4), level(3, 4)),
])
def test_every_level_event_encodes_with_its_schema(old: Row, new: Row):
    events = stock.level_events(old, new, THRESHOLD, CAUSE, AT)
    assert events
    for kind, event in events:
        assert event["eventType"] == kind
        CODEC.encode(f"orderflow.v1.{kind}", event)
    CODEC.encode("orderflow.v1.StockLevel", new)


# --- properties ------------------------------------------------------------------------

def band(row: Row, default: int) -> str:
    """The band of a row, as the inventory events describe them."""
    threshold = default if row["lowStockThreshold"] is None else row["lowStockThreshold"]
    available = row["onHand"] - row["reserved"]
    return "out" if available <= 0 else "low" if available < threshold else "ok"


stock_rows = hs.builds(level, hs.integers(-3, 12), hs.integers(0, 8), hs.one_of(hs.none(), hs.integers(0, 8)))
# A row may stay as it is for several messages (a price update, a duplicate), so repeats are common.
row_runs = hs.lists(hs.tuples(stock_rows, hs.integers(1, 3)), min_size=1, max_size=20).map(
    lambda runs: [dict(row) for row, times in runs for _ in range(times)])


@settings(max_examples=300, deadline=None)
@given(rows=row_runs, default=hs.integers(0, 8))
def test_band_events_are_announced_once_per_crossing_never_once_per_message(rows: list[Row], default: int):
    announced: list[str] = []
    shortages = 0
    for i, (old, new) in enumerate(zip([None, *rows], rows, strict=False)):
        events = stock.level_events(old, new, default, f"inventory.adjustments/0/{i}", AT)
        announced += [kind for kind, _ in events if kind in BAND_EVENTS]
        shortages += sum(kind == "StockShortage" for kind, _ in events)
    bands = [band(row, default) for row in rows]
    expected = [stock.CROSSINGS[move] for move in zip(bands, bands[1:], strict=False) if move in stock.CROSSINGS]
    note(f"bands={bands}")
    assert announced == expected
    short = [row["onHand"] < row["reserved"] for row in rows]
    assert shortages == sum(1 for was, now in zip(short, short[1:], strict=False) if now and not was)
