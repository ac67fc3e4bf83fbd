"""Pure logic of a customer's order list: upsert an order summary, newest
first, and cut pages. Rows are ``CustomerOrders`` (``schemas.messages``); no I/O.
A summary older than the one stored (by revision) changes nothing, so replays
and reordering cannot roll an entry back.
"""

from __future__ import annotations

from orderflow.schemas.messages import CustomerOrders, OrderSummary

__all__ = ["page", "upsert"]


def upsert(row: CustomerOrders | None, summary: OrderSummary) -> CustomerOrders | None:
    orders = list(row["orders"]) if row is not None else []
    for i, existing in enumerate(orders):
        if existing["orderId"] == summary["orderId"]:
            if existing["revision"] >= summary["revision"]:
                return None
            orders[i] = summary.copy()
            break
    else:
        orders.append(summary.copy())
    orders.sort(key=lambda o: (o["createdAt"], o["orderId"]), reverse=True)
    return {"customerId": summary["customerId"], "orders": orders}


def page(row: CustomerOrders | None, number: int, limit: int) -> tuple[list[OrderSummary], int]:
    """Page ``number`` (from 1) of ``limit`` orders, and the total count."""
    orders = row["orders"] if row is not None else []
    start = (number - 1) * limit
    return orders[start:start + limit], len(orders)
