"""Agent ``manage_customers``: everything kept per customer, in the
customer's partition, as four jobs of one agent.

Consumes, all keyed by customerId and co-partitioned, and hands each message
to the job for its kind:

- customers.commands (CreateCustomer, UpdateCustomer) and
  customers.email-results (EmailClaimResult): the registry
  (``agents.customer_registry``), which owns the table ``customers`` and
  produces customers.email-claims and customer.events;
- customers.checks (CheckCustomer): the customer check
  (``agents.customer_checks``), which owns ``customer-checks`` and the
  windowed ``velocity`` and produces customers.check-results;
- orders.by-customer (OrderSummary): the customer's order list
  (``agents.customer_orders``), which owns ``customer-orders``, then the
  notifications (``agents.notifications``), which own ``notifications-sent``
  and produce notifications.

One agent, not four: the check and the notifications read the customer's
row, which only a consumer of the same partitions has locally; and each
summary is consumed once for both the list and the notification (a second
agent on the topic cost a second delivery of every summary through Faust).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orderflow.agents import customer_checks, notifications
from orderflow.agents.customer_checks import CustomerChecks
from orderflow.agents.customer_orders import OrderLists
from orderflow.agents.customer_registry import CustomerRegistry
from orderflow.agents.notifications import Notifier
from orderflow.agents.runtime import Inbound
from orderflow.schemas import catalog

if TYPE_CHECKING:
    from orderflow.agents.app import Pipeline

__all__ = ["SOURCES", "CustomerDesk", "register"]

AGENT = catalog.MANAGE_CUSTOMERS
SOURCES = (catalog.CUSTOMER_COMMANDS, catalog.EMAIL_CLAIM_RESULTS, catalog.CUSTOMER_CHECKS,
           catalog.ORDERS_BY_CUSTOMER)


class CustomerDesk:
    """The agent's handler: each message to the job for its kind."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.registry = CustomerRegistry(pipeline)
        self.checks = CustomerChecks(pipeline)
        self.lists = OrderLists(pipeline)
        self.notifier = Notifier(pipeline)

    async def handle(self, msg: Inbound) -> str:
        if msg.kind == customer_checks.KIND:
            return await self.checks.handle(msg)
        if msg.kind == notifications.KIND:
            listed = self.lists.handle(msg)
            notified = await self.notifier.handle(msg)
            return listed if notified == "unchanged" else notified
        return await self.registry.handle(msg)


def register(pipeline: Pipeline) -> CustomerDesk:
    desk = CustomerDesk(pipeline)
    pipeline.add_agent(AGENT, SOURCES, desk.handle)
    return desk
