"""ORDERFLOW_REQUIRE_KNOWN_CUSTOMER reaches the customer check: the real
agent handler (``agents.customers.CustomerDesk``) over in-memory stand-ins for
its tables and outbox, with settings read from the environment as a worker
reads them. No broker: the decision itself is covered in test_customers_logic."""

from __future__ import annotations

import pytest
from support.pipelines import RecordingOutbox, fake_pipeline

from orderflow.agents.customers import CustomerDesk
from orderflow.agents.runtime.handling import Inbound
from orderflow.schemas import catalog
from orderflow.settings import Settings


def desk_from_environment() -> tuple[CustomerDesk, RecordingOutbox]:
    outbox = RecordingOutbox()
    pipeline = fake_pipeline(outbox, Settings(_env_file=None))
    return CustomerDesk(pipeline), outbox


def check_of_an_unknown_customer() -> Inbound:
    return Inbound(topic=catalog.CUSTOMER_CHECKS.name, partition=0, offset=7, key=b"cust_nobody",
                   kind="CheckCustomer",
                   record={"orderId": "ord_1", "customerId": "cust_nobody", "amountCents": 1000, "at": 0})


@pytest.mark.parametrize(("setting", "passed", "reason"), [
    (None, False, "unknown_customer"),  # the default: the check is on
    ("true", False, "unknown_customer"),
    ("false", True, None),
])
async def test_unknown_customer_check_follows_the_setting(monkeypatch: pytest.MonkeyPatch, setting: str | None,
                                                          passed: bool, reason: str | None) -> None:
    monkeypatch.delenv("ORDERFLOW_REQUIRE_KNOWN_CUSTOMER", raising=False)
    if setting is not None:
        monkeypatch.setenv("ORDERFLOW_REQUIRE_KNOWN_CUSTOMER", setting)
    desk, outbox = desk_from_environment()
    assert await desk.handle(check_of_an_unknown_customer()) == "applied"
    assert outbox.sent == [(catalog.CUSTOMER_CHECK_RESULTS.name, "ord_1", "CustomerCheckResult",
                            {"orderId": "ord_1", "customerId": "cust_nobody", "passed": passed, "reason": reason})]
