"""Pure logic of a customer's order list: upsert an order summary, newest
first, and cut pages. Rows are ``orderflow.v1.CustomerOrders`` dicts; no I/O.
A summary older than the one stored (by revision) changes nothing, so replays
and reordering cannot roll an entry back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["page", "upsert"]

Row = dict[str, Any]


def upsert(row: Row | None, summary: Mapping[str, Any]) -> Row | None:
    orders = list(row["orders"]) if row is not None else []
    for i, existing in enumerate(orders):
        if existing["orderId"] == summary["orderId"]:
            if existing["revision"] >= summary["revision"]:
                return None
            orders[i] = dict(summary)
            break
    else:
        orders.append(dict(summary))
    orders.sort(key=lambda o: (o["createdAt"], o["orderId"]), reverse=True)
    return {"customerId": summary["customerId"], "orders": orders}


def page(row: Row | None, number: int, limit: int) -> tuple[list[Row], int]:
    """Page ``number`` (from 1) of ``limit`` orders, and the total count."""
    orders = row["orders"] if row is not None else []
    start = (number - 1) * limit
    return orders[start:start + limit], len(orders)
