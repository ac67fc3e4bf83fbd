"""Agent ``manage_customers``: the customers service, the customer check of
every order, and the notifications of customer-facing transitions.

Consumes, all keyed by customerId and co-partitioned: customers.commands
(CreateCustomer, UpdateCustomer), customers.email-results (EmailClaimResult),
customers.checks (CheckCustomer) and orders.by-customer (OrderSummary).
Owns the tables ``customers``, ``customer-checks``, ``notifications-sent``
and the windowed table ``velocity``. Produces customer.events,
customers.email-claims (keyed by email), customers.check-results (keyed by
orderId) and notifications.

A thin adapter around ``tables.customers``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from orderflow.agents.handling import Inbound
from orderflow.schemas import catalog
from orderflow.schemas.messages import (
    CheckCustomer,
    CreateCustomer,
    CustomerCheck,
    CustomerState,
    EmailClaimResult,
    NotificationSent,
    OrderSummary,
    UpdateCustomer,
    VelocityWindow,
)
from orderflow.tables import customers as logic
from orderflow.tables.clock import iso, now_ms

if TYPE_CHECKING:
    from orderflow.agents.app import Pipeline

__all__ = ["SOURCES", "CustomerDesk", "register"]

AGENT = catalog.MANAGE_CUSTOMERS
SOURCES = (catalog.CUSTOMER_COMMANDS, catalog.EMAIL_CLAIM_RESULTS, catalog.CUSTOMER_CHECKS,
           catalog.ORDERS_BY_CUSTOMER)
EMPTY_WINDOW: VelocityWindow = {"orders": 0, "amountCents": 0}


class CustomerDesk:
    def __init__(self, pipeline: Pipeline) -> None:
        codec = pipeline.codec
        self.codec = codec
        self.customers = pipeline.rows(catalog.CUSTOMERS_TABLE, CustomerState, writer=AGENT)
        self.checks = pipeline.rows(catalog.CUSTOMER_CHECKS_TABLE, CustomerCheck, writer=AGENT)
        self.sent = pipeline.rows(catalog.NOTIFICATIONS_SENT_TABLE, NotificationSent, writer=AGENT)
        self.velocity = pipeline.tables[catalog.VELOCITY_TABLE.name]
        self.outbox = pipeline.outbox_for(AGENT)
        self.watchers = pipeline.watchers
        s = pipeline.settings
        self.limits = logic.Limits(s.require_known_customer, s.velocity_max_orders, s.velocity_max_amount_cents)

    async def handle(self, msg: Inbound) -> str:
        if msg.kind == "CheckCustomer":
            return await self._check(msg)
        if msg.kind == "OrderSummary":
            return await self._notify(msg)
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

    async def _check(self, msg: Inbound) -> str:
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

    async def _notify(self, msg: Inbound) -> str:
        summary = msg.record_as(OrderSummary)
        sent_key = f"{summary['customerId']}/{summary['orderId']}/{summary['status']}".encode()
        notification = logic.notification_for(summary, self.customers.get(msg.key), now_ms())
        if notification is None:
            return "unchanged"
        # A summary for a transition already notified is a replay, and the crash
        # that caused it may have lost the notification while its table record
        # survived: send it again under the same notificationId, which readers
        # deduplicate on.
        outcome = "replayed" if self.sent.get(sent_key) is not None else "applied"
        if outcome == "applied":
            self.sent.put(sent_key, {"notificationId": notification["notificationId"]})
        await self.outbox.send(catalog.NOTIFICATIONS, summary["customerId"], "Notification", notification)
        return outcome




def register(pipeline: Pipeline) -> CustomerDesk:
    desk = CustomerDesk(pipeline)
    pipeline.add_agent(AGENT, SOURCES, desk.handle)

    return desk
