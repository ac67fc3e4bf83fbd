"""Pure order-state logic: turning commands into rows of the orders table.

Consumes and returns plain dicts in the shape of ``orderflow.v1.OrderState``;
imports nothing from Kafka, Faust or aiohttp, so it is unit-tested in
milliseconds. The agents call it; it decides, they do the I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["PENDING", "accept_place_order", "new_order_state"]

PENDING = "pending"
Row = dict[str, Any]


def new_order_state(command: Mapping[str, Any], now_ms: int) -> Row:
    """The first row of an order, from its PlaceOrder command."""
    created = command.get("placedAt") or now_ms
    return {
        "orderId": command["orderId"],
        "customerId": command["customerId"],
        "status": PENDING,
        "items": [
            {
                "productId": line["productId"],
                "quantity": line["quantity"],
                "requestedPriceCents": line.get("priceCents"),
                "unitPriceCents": None,
                "status": "pending",
                "reason": None,
            }
            for line in command["items"]
        ],
        "totalCents": None,
        "currency": command.get("currency", "USD"),
        "paymentMethodId": command["paymentMethodId"],
        "shippingAddress": command.get("shippingAddress"),
        "paymentStatus": "none",
        "shippingStatus": "none",
        "history": [{"status": PENDING, "at": created, "reason": None}],
        "createdAt": created,
        "updatedAt": created,
    }


def accept_place_order(existing: Row | None, command: Mapping[str, Any], now_ms: int) -> Row | None:
    """The row to store for a PlaceOrder, or None when nothing changes.

    A replayed or duplicated command finds its order already there and
    changes nothing: the first command for an orderId wins.
    """
    if existing is not None:
        return None
    return new_order_state(command, now_ms)
