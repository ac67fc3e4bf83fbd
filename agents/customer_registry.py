"""The customer registry, one job of agent ``manage_customers``
(``agents.customers``): registers customers and applies their changes.

Consumes customers.commands (CreateCustomer, UpdateCustomer) and
customers.email-results (EmailClaimResult), keyed by customerId. Owns the
table ``customers`` (each customer's row; the check and the notifications
only read it). Produces customers.email-claims (ClaimEmail, ReleaseEmail,
keyed by the address, for agent ``own_emails``) and customer.events
(CustomerCreated, CustomerUpdated).

A thin adapter around ``tables.customers``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orderflow.agents.runtime import Inbound
from orderflow.schemas import catalog
from orderflow.schemas.messages import CreateCustomer, CustomerState, EmailClaimResult, UpdateCustomer
from orderflow.tables import customers as logic
from orderflow.tables.clock import iso, now_ms

if TYPE_CHECKING:
    from orderflow.agents.app import Pipeline

__all__ = ["CustomerRegistry"]


class CustomerRegistry:
    def __init__(self, pipeline: Pipeline) -> None:
        self.customers = pipeline.rows(catalog.CUSTOMERS_TABLE, CustomerState, writer=catalog.MANAGE_CUSTOMERS)
        self.outbox = pipeline.outbox_for(catalog.MANAGE_CUSTOMERS)
        self.watchers = pipeline.watchers

    async def handle(self, msg: Inbound) -> str:
        row = self.customers.get(msg.key)
        if row is not None and row["appliedOffsets"].get(msg.topic, -1) >= msg.offset:
            return "replayed"
        now = now_ms()
        if msg.kind == "CreateCustomer":
            decision = logic.create(row, msg.record_as(CreateCustomer), now)
        elif msg.kind == "UpdateCustomer":
            decision = logic.update(row, msg.record_as(UpdateCustomer), now, iso(now))
        else:
            decision = logic.on_claim_result(row, msg.record_as(EmailClaimResult), now, iso(now))
        if decision.row is None:
            return "unchanged"
        decision.row["appliedOffsets"] = {**decision.row["appliedOffsets"], msg.topic: msg.offset}
        self.customers.put(msg.key, decision.row)
        for kind, record in decision.claims:
            await self.outbox.send(catalog.EMAIL_CLAIMS, record["email"], kind, record)
        for kind, record in decision.events:
            await self.outbox.send(catalog.CUSTOMER_EVENTS, decision.row["customerId"], kind, record)
        self.watchers.notify(msg.key)
        return "applied"
