"""agents.customers: the one agent ``manage_customers`` hands each message to
its job (registry, customer check, notifications) and all three share the
customer's row. The real handlers over in-memory stand-ins for the tables and
the outbox; no broker."""

from __future__ import annotations

import itertools
from typing import Any

from support.pipelines import RecordingOutbox, fake_pipeline

from orderflow.agents.customers import SOURCES, CustomerDesk
from orderflow.agents.runtime.handling import Inbound
from orderflow.schemas import catalog
from orderflow.settings import Settings

OFFSETS = itertools.count(1)


def desk() -> tuple[CustomerDesk, RecordingOutbox]:
    outbox = RecordingOutbox()
    pipeline = fake_pipeline(outbox, Settings(_env_file=None))
    return CustomerDesk(pipeline), outbox


def inbound(topic: catalog.TopicSpec, kind: str, record: dict[str, Any]) -> Inbound:
    return Inbound(topic=topic.name, partition=0, offset=next(OFFSETS), key=b"cust_1", kind=kind, record=record)


async def test_each_kind_reaches_its_job_and_the_jobs_share_the_customer() -> None:
    customers, outbox = desk()
    assert {s.name for s in SOURCES} == {"customers.commands", "customers.email-results", "customers.checks",
                                         "orders.by-customer"}
    create = {"customerId": "cust_1", "email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace",
              "phone": "", "address": None, "requestedAt": 1}
    assert await customers.handle(inbound(catalog.CUSTOMER_COMMANDS, "CreateCustomer", create)) == "applied"
    granted = {"customerId": "cust_1", "email": "ada@example.com", "granted": True, "reason": None}
    assert await customers.handle(inbound(catalog.EMAIL_CLAIM_RESULTS, "EmailClaimResult", granted)) == "applied"
    check = {"orderId": "ord_1", "customerId": "cust_1", "amountCents": 1000, "at": 0}
    assert await customers.handle(inbound(catalog.CUSTOMER_CHECKS, "CheckCustomer", check)) == "applied"
    summary = {"orderId": "ord_1", "customerId": "cust_1", "status": "confirmed", "totalCents": 1000,
               "currency": "USD", "createdAt": 1, "updatedAt": 2, "revision": 3}
    assert await customers.handle(inbound(catalog.ORDERS_BY_CUSTOMER, "OrderSummary", summary)) == "applied"

    assert [(topic, key, kind) for topic, key, kind, _ in outbox.sent] == [
        ("customers.email-claims", "ada@example.com", "ClaimEmail"),
        ("customer.events", "cust_1", "CustomerCreated"),
        ("customers.check-results", "ord_1", "CustomerCheckResult"),
        ("notifications", "cust_1", "Notification"),
    ]
    assert outbox.sent[2][3]["passed"] is True  # the check found the registry's active customer
    assert outbox.sent[3][3]["recipient"] == "ada@example.com"  # and so did the notification
