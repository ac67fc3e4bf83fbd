"""Money as the seeds write it: orderflow keeps integer minor units (cents),
authoritative everywhere; events and answers also carry the decimal amount
under the seed's field name, made here so it is made one way."""

from __future__ import annotations

from decimal import Decimal

__all__ = ["amount"]


def amount(cents: int | None) -> float | None:
    """``1999`` -> ``19.99``; None stays None (a price not yet known)."""
    return None if cents is None else float(Decimal(cents) / 100)
