"""What makes an ingress message possible at all, beyond its schema: limits a
well-formed Avro or JSON record can still break (no lines, zero or negative
or huge quantities, negative prices). Pure; the gateway's request models use
the same limits, and the agents dead-letter a message with problems.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["IDENT_PATTERN", "MAX_LINES", "MAX_PRICE_CENTS", "MAX_QUANTITY", "MAX_STOCK", "problems"]

MAX_LINES = 100
MAX_QUANTITY = 10_000
MAX_PRICE_CENTS = 100_000_000  # 1,000,000.00
MAX_STOCK = 1_000_000_000

# Ids become parts of composite table keys ("customer/order"), so they may
# not hold "/" or spaces; the gateway's request models use the same pattern.
IDENT_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
_IDENT = re.compile(IDENT_PATTERN)

Record = Mapping[str, Any]


def _idents(record: Record, *names: str) -> list[str]:
    return [f"{name} must match {IDENT_PATTERN}" for name in names if not _IDENT.match(record[name])]


def _place_order(cmd: Record) -> list[str]:
    found = _idents(cmd, "orderId", "customerId", "paymentMethodId")
    items = cmd["items"]
    if not 1 <= len(items) <= MAX_LINES:
        found.append(f"items must hold 1 to {MAX_LINES} lines, not {len(items)}")
    for i, line in enumerate(items):
        if not _IDENT.match(line["productId"]):
            found.append(f"items.{i}.productId must match {IDENT_PATTERN}")
        if not 1 <= line["quantity"] <= MAX_QUANTITY:
            found.append(f"items.{i}.quantity must be 1 to {MAX_QUANTITY}, not {line['quantity']}")
        price = line.get("priceCents")
        if price is not None and not 0 <= price <= MAX_PRICE_CENTS:
            found.append(f"items.{i}.priceCents out of range: {price}")
    return found


def _range(field: str, low: int, high: int) -> Callable[[Record], list[str]]:
    """A number within bounds, on a message keyed by a well-formed productId."""

    def check(record: Record) -> list[str]:
        value = record[field]
        found = _idents(record, "productId")
        return found if low <= value <= high else [*found, f"{field} must be {low} to {high}, not {value}"]

    return check


CHECKS: Mapping[str, Callable[[Record], list[str]]] = {
    "PlaceOrder": _place_order,
    "Restocked": _range("quantity", 0, MAX_STOCK),
    "Adjusted": _range("delta", -MAX_STOCK, MAX_STOCK),
    "StockSet": _range("onHand", 0, MAX_STOCK),
    "PriceUpdated": _range("priceCents", 0, MAX_PRICE_CENTS),
    "LowStockThresholdSet": _range("threshold", 0, MAX_STOCK),
    "CreateCustomer": lambda cmd: _idents(cmd, "customerId"),
    "UpdateCustomer": lambda cmd: _idents(cmd, "customerId"),
}


def problems(kind: str, record: Record) -> list[str]:
    """Why ``record`` of schema ``kind`` (short name) cannot be handled; empty if it can."""
    check = CHECKS.get(kind)
    return check(record) if check is not None else []
