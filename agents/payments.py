"""Agent ``process_payments``: turns payment requests into calls to the
payment provider and publishes what happened.

Consumes payments.requests (RequestPayment, RefundPayment; keyed by orderId)
and payments.refunds (IssueRefund: an operator's refund, in full or in part;
the gateway writes it, co-partitioned).
Owns the table ``payments`` (one row per order's payment); reads the table
``orders`` (process_orders writes it; co-partitioned by orderId, so this
worker holds the row) to see whether another payment service settled the
order: then it does not capture. Produces
payments.events (PaymentAuthorized, PaymentCompleted, PaymentFailed,
PaymentRefunded). Calls the provider's authorize, capture and refund over
HTTP through ``PaymentProviderClient`` (timeouts, retries, circuit breaker,
an idempotency key per order and step).

While the provider is unavailable the agent waits and tries again: the
request is never skipped, so orders wait for payment; the order saga's
payment timeout cancels those that wait too long, and a request older than
that timeout is failed without charging anyone. A capture or refund the
provider refuses is dead-lettered as ``Unhandleable`` (``failures``); an
operator's refund that cannot be made (nothing captured, more than is left,
or the provider says no) is recorded on the row as refused, with the reason.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, cast

from prometheus_client import Counter

from orderflow.agents.payment_client import (
    PaymentProviderClient,
    ProviderRejected,
    ProviderUnavailable,
)
from orderflow.agents.runtime import Inbound, Unhandleable
from orderflow.certs import client_context
from orderflow.schemas import catalog
from orderflow.schemas.messages import IssueRefund, OrderState, PaymentState, RefundPayment, RequestPayment
from orderflow.tables import payments as logic
from orderflow.tables.clock import now_ms
from orderflow.tables.envelope import Event

if TYPE_CHECKING:
    from orderflow.agents.app import Pipeline

__all__ = ["PaymentDesk", "register"]

log = logging.getLogger(__name__)
AGENT = catalog.PROCESS_PAYMENTS
PROVIDER_STEPS = frozenset({logic.AUTHORIZE, logic.CAPTURE, logic.REFUND, logic.REFUND_PART})
COMMANDS: dict[str, type] = {"RequestPayment": RequestPayment, "RefundPayment": RefundPayment,
                             "IssueRefund": IssueRefund}
SETTLED_ELSEWHERE = Counter(
    "orderflow_payments_settled_elsewhere_total",
    "Payments authorized but not captured because another payment service settled the order "
    "(the authorization is a hold the provider releases when it expires).",
)


class PaymentDesk:
    def __init__(self, pipeline: Pipeline, client: PaymentProviderClient) -> None:
        self.payments = pipeline.rows(catalog.PAYMENTS_TABLE, PaymentState, writer=AGENT)
        self.orders = pipeline.rows(catalog.ORDERS_TABLE, OrderState)
        self.outbox = pipeline.outbox_for(AGENT)
        self.client = client
        self.timeout_ms = int(pipeline.settings.payment_timeout_s * 1000)
        self.retry_wait_s = pipeline.settings.payment_breaker_recovery_s

    async def handle(self, msg: Inbound) -> str:
        cmd: logic.Command = msg.record_as(COMMANDS[msg.kind])
        found = self.payments.get(msg.key)
        if msg.kind == "IssueRefund" and found is None:
            log.warning("refund %s for order %s refused: the order has no payment here",
                        cmd["refundRequestId"], cmd["orderId"])  # type: ignore[typeddict-item]
            return "unchanged"
        state = found or logic.new_payment(cmd)
        if msg.kind == "RequestPayment":
            state = logic.for_request(state, cast(RequestPayment, cmd))
        authorized_now = False
        while True:
            # Decided afresh after every attempt: a request that waited out an
            # outage past the payment timeout is expired, not charged.
            step = logic.next_step(state, msg.kind, cmd, now_ms(), self.timeout_ms,
                                   self.orders.get(msg.key))
            if step in PROVIDER_STEPS:
                before = state
                try:
                    state = await self._call(step, state, cmd)
                except ProviderUnavailable as exc:
                    log.warning("payment provider unavailable for %s of %s: %s; retrying in %.1fs",
                                step, state["orderId"], exc, self.retry_wait_s)
                    await asyncio.sleep(self.retry_wait_s)
                    continue
                except ProviderRejected as exc:
                    if step == logic.REFUND_PART:  # an operator's refund refused is an answer to record
                        refund = cast(IssueRefund, cmd)
                        state = self._put(msg.key, before, logic.after_refund_refused(
                            state, refund, f"the payment provider refused it: {exc}", now_ms()))
                        return "applied"
                    # The provider's rules refuse this step (e.g. a capture after a refund): asking
                    # again, or a restarted worker, gets the same answer, so it is this message's
                    # dead end, not a failing handler (authorize's refusals are answers, in _call).
                    raise Unhandleable(f"the payment provider refused the {step} of {state['orderId']}: "
                                       f"{exc}") from exc
                state = self._put(msg.key, before, state)
                await self._announce(state)
                if state["status"] == "authorized":
                    authorized_now = True
                    continue
                return "applied"
            if step == logic.EXPIRE:
                state = self._put(msg.key, state, logic.after_failure(state, logic.EXPIRED,
                                                                      "the order's payment window had passed"))
                await self._announce(state)
                return "applied"
            if step == logic.RESEND:
                await self._announce(state)
                return "replayed"
            if step == logic.RESEND_REFUND:
                refund = cast(IssueRefund, cmd)
                made = logic.earlier_refund(state, refund["refundRequestId"])
                if made is not None:
                    await self._send(logic.refund_event(state, made, now_ms()))
                return "replayed"
            if step == logic.REFUSE_REFUND:
                refund = cast(IssueRefund, cmd)
                why = logic.refund_refusal(state, refund) or "refused"
                log.warning("refund %s of order %s refused: %s", refund["refundRequestId"], state["orderId"], why)
                state = self._put(msg.key, state, logic.after_refund_refused(state, refund, why, now_ms()))
                return "applied"
            if step == logic.SETTLED_ELSEWHERE:
                return self._leave_uncaptured(state, authorized_now)
            if step == logic.SUPERSEDED:
                # The order changed: its newer request (later on this partition) is the one charged; an
                # authorization made for this one stays a hold the provider lets expire.
                log.info("payment request %s of order %s superseded by a change of the order",
                         cmd.get("version"), state["orderId"])
                return "applied" if authorized_now else "unchanged"
            return "unchanged"

    def _put(self, key: bytes, before: PaymentState, state: PaymentState) -> PaymentState:
        """Write ``state`` (what ``before`` became), its history extended; returns the row as written."""
        written = logic.with_history(before, state, now_ms())
        self.payments.put(key, written)
        return written

    def _leave_uncaptured(self, state: PaymentState, authorized_now: bool) -> str:
        """Another payment service settled the order: our authorization stays a hold."""
        if not authorized_now:
            return "unchanged"  # a replay: decided, counted and logged before
        SETTLED_ELSEWHERE.inc()
        log.warning("order %s was settled through another payment service: authorization %s not captured",
                    state["orderId"], state["paymentId"])
        return "applied"

    async def _call(self, step: str, state: PaymentState, command: logic.Command) -> PaymentState:
        order_id = state["orderId"]
        if step == logic.AUTHORIZE:
            cmd = cast(RequestPayment, command)  # only a RequestPayment authorizes
            try:
                auth = await self.client.authorize(order_id, cmd["customerId"], cmd["amountCents"],
                                                   cmd["currency"], cmd["paymentMethodId"], state.get("version") or 0)
            except ProviderRejected as exc:
                return logic.after_failure(state, "provider_rejected", exc.message)
            if not auth.approved or auth.payment_id is None:
                return logic.after_failure(state, auth.error_code or "declined", auth.error_message or "")
            return logic.after_authorize(state, auth.payment_id)
        if step == logic.CAPTURE:
            await self.client.capture(order_id, _payment_id(state), state["amountCents"], state.get("version") or 0)
            return logic.after_capture(state)
        if step == logic.REFUND_PART:
            asked = cast(IssueRefund, command)
            part = await self.client.refund(order_id, _payment_id(state), logic.requested_refund(state, asked),
                                            asked.get("reason") or "operator_refund",
                                            key_suffix=asked["refundRequestId"])
            return logic.after_operator_refund(state, asked, part.refund_id, now_ms())
        refund = await self.client.refund(order_id, _payment_id(state), logic.left_to_refund(state),
                                          "order_cancelled")
        return logic.after_refund(state, refund.refund_id)

    async def _announce(self, state: PaymentState) -> None:
        await self._send(logic.event_for(state, now_ms()))

    async def _send(self, event: Event) -> None:
        kind, record = event
        await self.outbox.send(catalog.PAYMENT_EVENTS, record["data"]["orderId"], kind, record)


def _payment_id(state: PaymentState) -> str:
    """The provider's id of an authorized payment (next_step asks for a capture or refund only then)."""
    transaction = logic.transaction_id(state)
    if transaction is None:
        raise ValueError(f"payment of {state['orderId']} has no transaction id at the provider")
    return transaction


def register(pipeline: Pipeline) -> PaymentDesk:
    s = pipeline.settings
    client = PaymentProviderClient(
        s.payment_provider_url, api_key=s.payment_api_key, timeout_s=s.payment_http_timeout_s,
        attempts=s.payment_attempts,
        backoff_initial_s=s.payment_backoff_initial_s, backoff_max_s=s.payment_backoff_max_s,
        breaker_failures=s.payment_breaker_failures, breaker_recovery_s=s.payment_breaker_recovery_s,
        tls=client_context(s.tls_ca_file))
    desk = PaymentDesk(pipeline, client)
    # the client's HTTP session lives as long as the agent
    pipeline.add_agent(AGENT, (catalog.PAYMENT_REQUESTS, catalog.PAYMENT_REFUNDS), desk.handle,
                       around=lambda: client)

    return desk
