"""Pure price logic: the current price of a product, from PriceUpdated
messages that may arrive late, twice or out of order.

Consumes ``PriceUpdated`` messages and returns ``ProductPrice`` rows (the
typed dicts of ``schemas.messages``); no I/O. A product's price row has one writer, the price
agent of its partition; the stock agent of the same partition reads it to
stamp each reserved line.
"""

from __future__ import annotations

from orderflow.schemas.messages import PriceUpdated, ProductPrice

__all__ = ["apply_update", "price_of"]


def apply_update(current: ProductPrice | None, update: PriceUpdated) -> ProductPrice | None:
    """The row after ``update``, or None when it is not newer than the applied one.

    Only the newest effective time wins, so a replayed or late update can never
    roll a price back, and applying an update twice changes nothing.
    """
    if current is not None and update["effectiveAt"] <= current["effectiveAt"]:
        return None
    return {"productId": update["productId"], "priceCents": update["priceCents"],
            "currency": update.get("currency") or "USD", "effectiveAt": update["effectiveAt"]}


def price_of(row: ProductPrice | None, default_price_cents: int) -> tuple[int, str]:
    """Unit price in cents and currency; the deployment's default until a price is set."""
    if row is None:
        return default_price_cents, "USD"
    return row["priceCents"], row["currency"]
