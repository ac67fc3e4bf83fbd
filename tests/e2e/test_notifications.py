"""Notifications end to end: a rejected order, the customer-facing transition
tests/e2e/test_platform_streams.py leaves out, gets exactly one notification,
and the customer exactly one email through the stack's SMTP server; an
address the server refuses is dead-lettered with its answer."""

from __future__ import annotations

import pytest
from support.http import get, post_json
from support.saga import await_status, keyed_records, new_id, place, seed_stock
from support.waiting import eventually_value

from orderflow import deadletters
from orderflow.schemas import catalog
from orderflow.stack import DevStack

pytestmark = pytest.mark.e2e


def test_rejected_order_yields_exactly_one_notification_to_the_customer(stack: DevStack) -> None:
    email = f"{new_id('rita')}@example.com"
    created = post_json(f"{stack.gateway_url}/api/v1/customers", {"email": email, "firstName": "Rita"})
    assert created.status == 201, created.body
    customer, product = created.json()["customerId"], new_id("prod")
    seed_stock(stack, product, 1)
    rejected = place(stack, [{"productId": product, "quantity": 2}], customer=customer)
    assert await_status(stack, rejected, "rejected")["statusHistory"][-1]["reason"] == "out_of_stock"
    # A later order of the same customer is notified after anything of the first: its summary and
    # notification share the customer's partition. Once it is there, a second one of the first would be too.
    marker = place(stack, [{"productId": new_id("ghost"), "quantity": 1}], customer=customer)
    await_status(stack, marker, "rejected")

    def notified(found: list[dict]) -> bool:
        return marker in {n["fields"]["orderId"] for n in found}

    found = [n for n in eventually_value(lambda: keyed_records(stack.settings.kafka, catalog.NOTIFICATIONS,
                                                               customer),
                                         until=notified, timeout=30, what="the marker's notification")
             if n["fields"]["orderId"] == rejected]
    assert [(n["channel"], n["recipient"], n["template"], n["fields"]) for n in found] == [
        ("email", email, "order_rejected",
         {"orderId": rejected, "status": "rejected", "firstName": "Rita", "currency": "USD"})]

    # and the customer received it, once, by email through the stack's SMTP server
    def mailbox() -> list[dict]:
        return get(f"{stack.mail_sink_url}/messages?to={email}").json()["messages"]

    received = eventually_value(mailbox, until=lambda m: len(m) == 2, timeout=30,
                                what="both rejections' emails")  # the marker's too, sent after
    first = [m for m in received if rejected in m["subject"]]
    assert [(m["to"], m["subject"], m["messageId"]) for m in first] == [
        ([email], f"Your order {rejected} could not be accepted", f"<ntf_{rejected}_rejected@orderflow.example>")]
    assert "Sorry, Rita" in first[0]["text"] and "not been charged" in first[0]["text"]


def test_an_address_the_mail_server_refuses_is_dead_lettered_with_its_answer(stack: DevStack) -> None:
    email = f"no-such-mailbox-{new_id('x')}@example.com"
    created = post_json(f"{stack.gateway_url}/api/v1/customers", {"email": email, "firstName": "Nemo"})
    assert created.status == 201, created.body
    customer = created.json()["customerId"]
    rejected = place(stack, [{"productId": new_id("ghost"), "quantity": 1}], customer=customer)
    await_status(stack, rejected, "rejected")

    def letters() -> list[deadletters.DeadLetter]:
        return [letter for letter in deadletters.read(stack.settings.kafka, source_topic=catalog.NOTIFICATIONS.name)[0]
                if letter.key == customer.encode()]

    [letter] = eventually_value(letters, until=lambda found: len(found) == 1, timeout=30,
                                what="the refused notification's dead letter")
    assert letter.reason.startswith(f"refused: the mail server refused {email} for good: 550")
    # the sender went on: the next customer's email arrives
    test_rejected_order_yields_exactly_one_notification_to_the_customer(stack)
