"""A capture the payment provider refuses is the message's dead end, not a bug
of the payment agent: it is raised as Unhandleable, so it is dead-lettered
without counting towards the worker's failure budget."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from support.pipelines import RecordingOutbox, fake_pipeline

from orderflow.agents.payment_client import Authorization, ProviderRejected
from orderflow.agents.payments import PaymentDesk
from orderflow.agents.runtime.handling import Inbound, Unhandleable
from orderflow.schemas import catalog
from orderflow.tables.clock import now_ms


class RefusingProvider:
    async def authorize(self, *_args: Any) -> Authorization:
        return Authorization(approved=True, payment_id="pay_1")

    async def capture(self, *_args: Any) -> None:
        raise ProviderRejected(409, "payment_refunded", "capture after a refund")


async def test_a_refused_capture_is_unhandleable_with_the_providers_reason() -> None:
    outbox = RecordingOutbox()
    pipeline = fake_pipeline(outbox, SimpleNamespace(payment_timeout_s=300.0, payment_breaker_recovery_s=1.0))
    desk = PaymentDesk(pipeline, RefusingProvider())  # type: ignore[arg-type]  # the provider's client is faked
    request = Inbound(catalog.PAYMENT_REQUESTS.name, 0, 7, b"ord_1", "RequestPayment", {
        "orderId": "ord_1", "customerId": "cust_1", "amountCents": 1000, "currency": "USD",
        "paymentMethodId": "pm_1", "requestedAt": now_ms()})
    with pytest.raises(Unhandleable, match=r"refused the capture of ord_1: HTTP 409 payment_refunded"):
        await desk.handle(request)
    assert outbox.kinds == ["PaymentAuthorized"]  # what happened before the refusal is announced
