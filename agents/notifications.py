"""The notifications of customer-facing order transitions, one job of agent
``manage_customers`` (``agents.customers``): exactly one Notification per
transition (confirmed, rejected, payment_failed, shipped, delivered,
cancelled), to the address in the customer's row.

Consumes orders.by-customer (OrderSummary, keyed by customerId, from the
order saga). Owns the table ``notifications-sent`` (the transitions already
notified); reads ``customers`` (the registry's, same partition) for the
recipient. Produces notifications (Notification, keyed by customerId); a
replayed summary writes its notification again under the same
notificationId, which readers deduplicate on.

A thin adapter around ``tables.customers``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orderflow.agents.runtime import Inbound
from orderflow.schemas import catalog
from orderflow.schemas.messages import CustomerState, NotificationSent, OrderSummary
from orderflow.tables import customers as logic
from orderflow.tables.clock import now_ms

if TYPE_CHECKING:
    from orderflow.agents.app import Pipeline

__all__ = ["KIND", "Notifier"]

KIND = "OrderSummary"


class Notifier:
    def __init__(self, pipeline: Pipeline) -> None:
        self.customers = pipeline.rows(catalog.CUSTOMERS_TABLE, CustomerState)
        self.sent = pipeline.rows(catalog.NOTIFICATIONS_SENT_TABLE, NotificationSent, writer=catalog.MANAGE_CUSTOMERS)
        self.outbox = pipeline.outbox_for(catalog.MANAGE_CUSTOMERS)

    async def handle(self, msg: Inbound) -> str:
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
