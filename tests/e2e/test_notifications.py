"""Notifications end to end: a rejected order, the customer-facing transition
tests/e2e/test_platform_streams.py leaves out, gets exactly one email."""

from __future__ import annotations

import pytest
from support.http import post_json
from support.saga import await_status, keyed_records, new_id, place, seed_stock
from support.waiting import eventually_value

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
