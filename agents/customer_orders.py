"""Each customer's order list, one job of agent ``manage_customers``
(``agents.customers``).

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

__all__ = ["OrderLists"]


class OrderLists:
    def __init__(self, pipeline: Pipeline) -> None:
        self.lists = pipeline.rows(catalog.CUSTOMER_ORDERS_TABLE, CustomerOrders, writer=catalog.MANAGE_CUSTOMERS)

    def handle(self, msg: Inbound) -> str:
        new = logic.upsert(self.lists.get(msg.key), msg.record_as(OrderSummary))
        if new is None:
            return "unchanged"
        self.lists.put(msg.key, new)
        return "applied"
