"""The email each customer-facing notification becomes, and which SMTP answers are final."""

from __future__ import annotations

import pytest

from orderflow.schemas.messages import Notification
from orderflow.tables import mail
from orderflow.tables.order_status import CUSTOMER_FACING


def notification(template: str, **fields: str) -> Notification:
    return {"notificationId": "ntf_ord_1_confirmed", "customerId": "c1", "channel": "email",
            "recipient": "ada@example.com", "template": template, "fields": fields, "createdAt": 1}


def test_every_customer_facing_status_has_a_template() -> None:
    assert {f"order_{status}" for status in CUSTOMER_FACING} == set(mail.TEMPLATES)


def test_a_confirmation_names_the_order_the_customer_and_the_total() -> None:
    email = mail.render(notification("order_confirmed", orderId="ord_1", firstName="Ada", totalAmount="39.98",
                                     currency="EUR"))
    assert (email.to, email.subject) == ("ada@example.com", "Your order ord_1 is confirmed")
    assert email.text.startswith("Thank you, Ada: your order ord_1 is confirmed and paid (39.98 EUR).")


def test_a_field_the_notification_lacks_reads_as_nothing() -> None:
    assert mail.render(notification("order_shipped", orderId="ord_1")).text.startswith("Good news, : your order")


def test_an_unknown_template_is_refused() -> None:
    with pytest.raises(mail.UnknownTemplate, match="order_lost"):
        mail.render(notification("order_lost"))


@pytest.mark.parametrize(("code", "final"), [(550, True), (554, True), (421, False), (451, False), (None, False)])
def test_only_a_5xx_answer_is_final(code: int | None, final: bool) -> None:
    assert mail.is_permanent(code) is final


def test_every_copy_of_a_notification_has_the_same_message_id() -> None:
    assert mail.message_id("ntf_ord_1_confirmed", "shop.example") == "<ntf_ord_1_confirmed@shop.example>"
