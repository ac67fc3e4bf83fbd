"""The customer check of every order, one job of agent ``manage_customers``
(``agents.customers``): the customer must exist (unless the check is turned
off) and stay within its velocity limits.

Consumes customers.checks (CheckCustomer, keyed by customerId, from the order
saga). Owns the tables ``customer-checks`` (each order's check, so a replay
decides the same and counts once) and the windowed table ``velocity``
(orders and amount per customer per tumbling window); reads ``customers``
(the registry's, same partition). Produces customers.check-results
(CustomerCheckResult, keyed by orderId, back to the saga).

A thin adapter around ``tables.customers``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from orderflow.agents.runtime import Inbound
from orderflow.schemas import catalog
from orderflow.schemas.messages import CheckCustomer, CustomerCheck, CustomerState, VelocityWindow
from orderflow.tables import customers as logic

if TYPE_CHECKING:
    from orderflow.agents.app import Pipeline

__all__ = ["KIND", "CustomerChecks"]

KIND = "CheckCustomer"
EMPTY_WINDOW: VelocityWindow = {"orders": 0, "amountCents": 0}


class CustomerChecks:
    def __init__(self, pipeline: Pipeline) -> None:
        codec = pipeline.codec
        self.codec = codec
        self.customers = pipeline.rows(catalog.CUSTOMERS_TABLE, CustomerState)
        self.checks = pipeline.rows(catalog.CUSTOMER_CHECKS_TABLE, CustomerCheck, writer=catalog.MANAGE_CUSTOMERS)
        self.velocity = pipeline.tables[catalog.VELOCITY_TABLE.name]
        self.outbox = pipeline.outbox_for(catalog.MANAGE_CUSTOMERS)
        s = pipeline.settings
        self.limits = logic.Limits(s.require_known_customer, s.velocity_max_orders, s.velocity_max_amount_cents)

    async def handle(self, msg: Inbound) -> str:
        cmd = msg.record_as(CheckCustomer)
        check_key = f"{cmd['customerId']}/{cmd['orderId']}".encode()
        done = self.checks.get(check_key)
        outcome = "replayed"
        if done is None:
            window = self.velocity[cmd["customerId"]].current()
            passed, reason, new_window = logic.admit(
                self.customers.get(msg.key),
                cast(VelocityWindow, self.codec.decode(window).record) if window else EMPTY_WINDOW,
                cmd["amountCents"], self.limits)
            if new_window is not None:
                self.velocity[cmd["customerId"]] = self.codec.encode(catalog.VELOCITY_TABLE.value_schema, new_window)
            done = {"passed": passed, "reason": reason}
            self.checks.put(check_key, done)
            outcome = "applied"
        await self.outbox.send(catalog.CUSTOMER_CHECK_RESULTS, cmd["orderId"], "CustomerCheckResult",
                               {"orderId": cmd["orderId"], "customerId": cmd["customerId"], **done})
        return outcome
