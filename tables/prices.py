"""Pure price logic: the current price of a product, from PriceUpdated
messages that may arrive late, twice or out of order.

Consumes ``PriceUpdated`` messages and returns ``ProductPrice`` rows (the
typed dicts of ``schemas.messages``); no I/O. A product's price row has one writer, the price
agent of its partition; the stock agent of the same partition reads it to
stamp each reserved line.
"""

from __future__ import annotations

from orderflow.schemas.messages import PriceUpdated, ProductPrice

__all__ = ["NO_PRICE_CURRENCY", "apply_update", "currency_of", "price_of", "unit_price_cents"]

# The currency of a product with no price yet, and of a PriceUpdated without one.
NO_PRICE_CURRENCY = "USD"

def apply_update(current: ProductPrice | None, update: PriceUpdated) -> ProductPrice | None:
    """The row after ``update``, or None when it is not newer than the applied one.

    Only the newest effective time wins, so a replayed or late update can never
    roll a price back, and applying an update twice changes nothing.
    """
    if current is not None and update["effectiveAt"] <= current["effectiveAt"]:
        return None
    return {"productId": update["productId"], "priceCents": update["priceCents"],
            "currency": update.get("currency") or NO_PRICE_CURRENCY, "effectiveAt": update["effectiveAt"]}


def unit_price_cents(price_cents: int | None, default_price_cents: int) -> int:
    """The unit price of a product whose set price is ``price_cents`` (None: no
    price yet): the deployment's default (``settings.default_price_cents``)
    until a price is set. The one place that fallback lives; the stock agent
    stamps lines with it and the gateway's product view shows it."""
    return default_price_cents if price_cents is None else price_cents


def currency_of(row: ProductPrice | None) -> str:
    """The currency of a product's price row (None: no price yet)."""
    return NO_PRICE_CURRENCY if row is None else row["currency"]


def price_of(row: ProductPrice | None, default_price_cents: int) -> tuple[int, str]:
    """Unit price in cents and currency of a product's price row (None: no price yet)."""
    return unit_price_cents(None if row is None else row["priceCents"], default_price_cents), currency_of(row)
