"""The email a notification becomes, and what a mail server's answer means.

Pure: ``render`` turns a Notification (its template and fields) into the
subject and text of the customer's email; ``is_permanent`` tells an answer
that will never change (a 5xx: the address does not exist, the mailbox is
refused) from one worth trying again (a 4xx, a dropped connection).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from orderflow.schemas.messages import Notification

__all__ = ["Email", "UnknownTemplate", "is_permanent", "message_id", "render"]

# template -> (subject, first paragraph); fields fill the {placeholders}
TEMPLATES: Final[dict[str, tuple[str, str]]] = {
    "order_confirmed": ("Your order {orderId} is confirmed",
                        "Thank you, {firstName}: your order {orderId} is confirmed and paid "
                        "({totalAmount} {currency})."),
    "order_rejected": ("Your order {orderId} could not be accepted",
                       "Sorry, {firstName}: your order {orderId} could not be accepted, and you have not "
                       "been charged."),
    "order_payment_failed": ("The payment for your order {orderId} failed",
                             "Sorry, {firstName}: the payment for your order {orderId} failed, and you have not been "
                             "charged. You may place it again with another payment method."),
    "order_shipped": ("Your order {orderId} is on its way",
                      "Good news, {firstName}: your order {orderId} has shipped."),
    "order_delivered": ("Your order {orderId} was delivered",
                        "{firstName}, your order {orderId} was delivered. We hope you enjoy it."),
    "order_cancelled": ("Your order {orderId} is cancelled",
                        "{firstName}, your order {orderId} is cancelled; anything you paid is refunded."),
}
SIGNATURE = "\n\n-- \norderflow\n"


class UnknownTemplate(ValueError):
    """A notification names a template orderflow does not have."""


@dataclass(frozen=True, slots=True)
class Email:
    to: str
    subject: str
    text: str


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""  # a field the notification lacks (e.g. no total yet) reads as nothing, never a KeyError


def render(notification: Notification) -> Email:
    template = TEMPLATES.get(notification["template"])
    if template is None:
        raise UnknownTemplate(f"no email template {notification['template']!r}")
    fields = _Blank(notification.get("fields") or {})
    subject, text = (part.format_map(fields) for part in template)
    return Email(notification["recipient"], subject, text + SIGNATURE)


def message_id(notification_id: str, domain: str) -> str:
    """The Message-ID of a notification's email: the same for every copy, so a
    mail system that sees it twice can drop the second."""
    return f"<{notification_id}@{domain}>"


def is_permanent(code: int | None) -> bool:
    """Whether a mail server's reply code is final (5xx); None (no reply: the
    connection failed) is worth another try."""
    return code is not None and 500 <= code < 600
