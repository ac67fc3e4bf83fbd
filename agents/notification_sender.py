"""Agent ``send_notifications``: delivers each notification by email.

Consumes notifications (Notification, keyed by customerId, from
``manage_customers``). Owns the table ``notifications-delivered`` (the
notifications the mail server accepted, by notificationId). Sends each email
notification over SMTP (``MailClient``) to its recipient, rendered from its
template (``tables.mail``), with a Message-ID made of its notificationId.

At most once per notificationId: one already in the table is not sent again
(a replay, or the copy a crash of ``manage_customers`` wrote twice). The one
window left is a crash after the server accepted an email and before its row
was written: the copy then sent carries the same Message-ID, for the mail
system to drop. An address the server refuses for good (5xx) is
dead-lettered with the server's answer; while the server is away the agent
waits and tries again, so no notification is skipped.

Registered only when ``ORDERFLOW_SMTP_HOST`` is set.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from orderflow.agents.mail_client import EMAILS, MailClient, MailRefused, MailUnavailable
from orderflow.agents.runtime import Inbound, Unhandleable
from orderflow.schemas import catalog
from orderflow.schemas.messages import Notification, NotificationDelivered
from orderflow.tables import mail
from orderflow.tables.clock import now_ms

if TYPE_CHECKING:
    from orderflow.agents.app import Pipeline

__all__ = ["NotificationSender", "register"]

log = logging.getLogger(__name__)
AGENT = catalog.SEND_NOTIFICATIONS


class NotificationSender:
    def __init__(self, pipeline: Pipeline, client: MailClient) -> None:
        self.delivered = pipeline.rows(catalog.NOTIFICATIONS_DELIVERED_TABLE, NotificationDelivered, writer=AGENT)
        self.client = client
        self.domain = pipeline.settings.smtp_message_id_domain
        self.retry_wait_s = pipeline.settings.smtp_breaker_recovery_s

    async def handle(self, msg: Inbound) -> str:
        notification = msg.record_as(Notification)
        if notification["channel"] != "email":
            return "ignored"  # another channel's sender's
        key = notification["notificationId"].encode()
        if self.delivered.get(key) is not None:
            EMAILS.labels("duplicate").inc()
            return "replayed"
        try:
            email = mail.render(notification)
        except mail.UnknownTemplate as exc:
            raise Unhandleable(str(exc)) from exc
        message_id = mail.message_id(notification["notificationId"], self.domain)
        while True:
            try:
                await self.client.send(email, message_id)
                break
            except MailRefused as exc:
                raise Unhandleable(f"the mail server refused {email.to} for good: {exc}") from exc
            except MailUnavailable as exc:
                log.warning("email %s not sent: %s; trying again in %.1fs", notification["notificationId"], exc,
                            self.retry_wait_s)
                await asyncio.sleep(self.retry_wait_s)
        self.delivered.put(key, {"notificationId": notification["notificationId"], "recipient": email.to,
                                 "messageId": message_id, "sentAt": now_ms()})
        return "applied"


def register(pipeline: Pipeline) -> NotificationSender | None:
    s = pipeline.settings
    if not s.smtp_host:
        return None
    client = MailClient(s.smtp_host, s.smtp_port, s.smtp_from, timeout_s=s.smtp_timeout_s,
                        attempts=s.smtp_attempts, backoff_initial_s=s.payment_backoff_initial_s,
                        backoff_max_s=s.payment_backoff_max_s, breaker_failures=s.smtp_breaker_failures,
                        breaker_recovery_s=s.smtp_breaker_recovery_s, start_tls=s.smtp_starttls)
    sender = NotificationSender(pipeline, client)
    # the SMTP connection lives as long as the agent
    pipeline.add_agent(AGENT, (catalog.NOTIFICATIONS,), sender.handle, around=lambda: client)
    return sender
