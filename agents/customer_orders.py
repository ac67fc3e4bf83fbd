"""Each customer's order list, one job of agent ``manage_customers``
(``agents.customers``).

Consumes orders.by-customer (OrderSummary, keyed by customerId). Owns the
table ``customer-order-entries`` (one entry per order, in the store and
changelog of ``customer-orders``, whose whole-list rows from before are only
read). Produces nothing; the worker's web view pages it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orderflow.agents.runtime import Inbound
from orderflow.schemas import catalog
from orderflow.schemas.messages import OrderSummary
from orderflow.tables import customer_orders as logic

if TYPE_CHECKING:
    from orderflow.agents.app import Pipeline

__all__ = ["OrderLists"]


class OrderLists:
    def __init__(self, pipeline: Pipeline) -> None:
        self.entries = pipeline.rows(catalog.CUSTOMER_ORDER_ENTRIES_TABLE, OrderSummary,
                                     writer=catalog.MANAGE_CUSTOMERS)

    def handle(self, msg: Inbound) -> str:
        summary = msg.record_as(OrderSummary)
        key = logic.entry_key(summary)
        new = logic.newer(self.entries.get(key), summary)
        if new is None:
            return "unchanged"
        self.entries.put(key, new)
        return "applied"
