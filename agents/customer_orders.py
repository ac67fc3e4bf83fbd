"""Agent ``list_customer_orders``: keeps each customer's order list.

Consumes orders.by-customer (OrderSummary, keyed by customerId). Owns the
table ``customer-orders``. Produces nothing; the worker's web view pages it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orderflow.agents.runtime import Inbound
from orderflow.schemas import catalog
from orderflow.schemas.messages import CustomerOrders, OrderSummary
from orderflow.tables import customer_orders as logic

if TYPE_CHECKING:
    from orderflow.agents.app import Pipeline

__all__ = ["register"]

AGENT = catalog.LIST_CUSTOMER_ORDERS


def register(pipeline: Pipeline) -> None:
    lists = pipeline.rows(catalog.CUSTOMER_ORDERS_TABLE, CustomerOrders, writer=AGENT)

    async def handle(msg: Inbound) -> str:
        new = logic.upsert(lists.get(msg.key), msg.record_as(OrderSummary))
        if new is None:
            return "unchanged"
        lists.put(msg.key, new)
        return "applied"

    pipeline.add_agent(AGENT, (catalog.ORDERS_BY_CUSTOMER,), handle)
