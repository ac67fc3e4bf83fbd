"""tables.prices: the current price of a product from late, repeated and
out-of-order PriceUpdated messages, and the price a reserved line is stamped with."""

from __future__ import annotations

from typing import Any

import pytest

from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec
from orderflow.tables import prices, stock

CODEC = Codec()
DEFAULT_PRICE = 750


def update(cents: int, at: int, currency: str | None = "EUR") -> dict[str, Any]:
    return {"productId": "sku-1", "priceCents": cents, "currency": currency, "effectiveAt": at}


def test_first_price_applies_whatever_its_effective_time():
    row = prices.apply_update(None, update(1000, at=0))
    assert row == {"productId": "sku-1", "priceCents": 1000, "currency": "EUR", "effectiveAt": 0}


def test_a_newer_price_replaces_the_applied_one():
    row = prices.apply_update(prices.apply_update(None, update(1999, at=1)), update(2499, at=2))
    assert row is not None
    assert (row["priceCents"], row["effectiveAt"], row["currency"]) == (2499, 2, "EUR")


@pytest.mark.parametrize("at", [0, 5, 10], ids=["older", "older", "same time (a replay)"])
def test_an_older_or_equal_effective_time_changes_nothing(at):
    row = prices.apply_update(None, update(1000, at=10))
    assert prices.apply_update(row, update(2000, at=at)) is None


def test_out_of_order_updates_end_at_the_newest_whatever_the_arrival_order():
    updates = [update(100 + at, at=at) for at in (3, 1, 4, 2, 4, 0)]
    row = None
    for u in updates:
        row = prices.apply_update(row, u) or row
    assert row is not None and (row["priceCents"], row["effectiveAt"]) == (104, 4)


def test_a_missing_currency_means_usd():
    row = prices.apply_update(None, update(1000, at=1, currency=None))
    assert row is not None and row["currency"] == "USD"


def test_price_of_a_product_without_a_price_is_the_default():
    assert prices.price_of(None, DEFAULT_PRICE) == (DEFAULT_PRICE, "USD")
    row = prices.apply_update(None, update(1234, at=1))
    assert prices.price_of(row, DEFAULT_PRICE) == (1234, "EUR")


def test_the_unit_price_of_a_product_without_a_price_is_the_default_and_a_set_price_wins():
    assert prices.unit_price_cents(None, DEFAULT_PRICE) == DEFAULT_PRICE
    assert prices.unit_price_cents(1234, DEFAULT_PRICE) == 1234
    assert prices.unit_price_cents(0, DEFAULT_PRICE) == 0  # a free product is priced, not unpriced


def test_the_currency_of_a_product_without_a_price_is_usd():
    assert prices.currency_of(None) == prices.NO_PRICE_CURRENCY == "USD"
    assert prices.currency_of(prices.apply_update(None, update(1234, at=1))) == "EUR"


def test_a_reserved_line_carries_the_current_price_and_a_different_client_price_is_rejected():
    level = {**stock.new_stock("sku-1"), "onHand": 10}
    price, _ = prices.price_of(prices.apply_update(None, update(2499, at=2)), DEFAULT_PRICE)
    cmd = {"orderId": "ord_1", "line": 0, "productId": "sku-1", "quantity": 1, "requestedPriceCents": None}
    assert stock.reserve(level, None, cmd, price).result["unitPriceCents"] == 2499
    stale = stock.reserve(level, None, {**cmd, "requestedPriceCents": 1999}, price).result
    assert (stale["outcome"], stale["reason"], stale["unitPriceCents"]) == ("rejected", "price_changed", 2499)


def test_price_rows_round_trip_through_their_schema():
    row = prices.apply_update(None, update(1000, at=7))
    assert CODEC.decode(CODEC.encode(catalog.PRICES_TABLE.value_schema, row)).record == row
