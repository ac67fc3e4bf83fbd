"""Client of the payment provider's HTTP API, for the payment step of the saga.

Consumes: POST /api/v1/payments/authorize, /{id}/capture and /{id}/refund of
the provider (amounts as decimal numbers on the wire). Produces: Authorization,
Capture and Refund results in integer cents, or ProviderUnavailable /
ProviderRejected. Owns: one aiohttp session (opened by ``start``, closed by
``close``; nothing at import or construction), one circuit breaker per client,
and the orderflow_payment_provider_* metrics.

Nobody is charged twice: each call carries an Idempotency-Key made of the step
and the order id (``capture-<order>``), so a retry, ours or a redelivered saga
message's, gets the first answer instead of a second effect.

Retries (tenacity) cover transient failures only: connection errors, timeouts,
5xx, 408 and 429, and 401/403 (the provider refused orderflow's API key:
our fault, so the payment waits for the key to be fixed instead of failing
the customer's order). Waits grow exponentially with full jitter, so clients that
failed together do not retry together. A decline (402) is an answer, and any
other 4xx raises ProviderRejected at once: asking again would get the same.

The circuit breaker is the ``circuitbreaker`` package: it wraps coroutine
functions natively, has no dependencies of its own, and its state lives in a
plain object, so each client gets its own breaker. It counts one failure per
call whose retries are all exhausted; declines and rejections are answers and
close it again. Two of its quirks are handled here: a recovery time of 0 would
silently mean its 30 s default (so it must be positive), and its
context-manager form does not check the open state (so the call is decorated).
When half-open it lets every concurrent call through as a trial, not just one.
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
from circuitbreaker import CircuitBreaker, CircuitBreakerError
from prometheus_client import Counter, Gauge, Histogram
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from orderflow import tracing

__all__ = [
    "Authorization",
    "Capture",
    "PaymentProviderClient",
    "ProviderError",
    "ProviderRejected",
    "ProviderUnavailable",
    "Refund",
]

log = logging.getLogger(__name__)

PROVIDER_CALLS = Counter(
    "orderflow_payment_provider_calls_total",
    "Calls to the payment provider (retries included in one call), by step and outcome "
    "(approved, declined, captured, refunded, rejected, unavailable, breaker_open, failed).",
    ["step", "outcome"],
)
PROVIDER_LATENCY = Histogram(
    "orderflow_payment_provider_call_seconds",
    "Time of one call to the payment provider (its retries and backoff included), by step and outcome.",
    ["step", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
BREAKER_STATE = Gauge(
    "orderflow_payment_provider_breaker_state",
    "1 for the current state of the payment provider circuit breaker, 0 for the others.",
    ["state"],
)
BREAKER_STATES = ("closed", "open", "half_open")
STEPS = ("authorize", "capture", "refund")
# Answers that say "try again later" rather than "no".
TRANSIENT_STATUSES = frozenset({408, 429})
# The provider refused our credentials: an outage of ours, retried and counted by the breaker, not a decline.
CREDENTIALS_REFUSED = frozenset({401, 403})
T = TypeVar("T")


class ProviderError(Exception):
    """A payment step could not be completed with the provider."""


class ProviderUnavailable(ProviderError):
    """The payment provider could not be reached in time: every attempt failed
    (connection error, timeout or 5xx), or the circuit breaker is open after
    repeated failures and the call was not even tried.

    The outcome of the step is unknown, not negative: the provider may have
    acted on a request whose reply was lost. Retry the same step later; its
    idempotency key makes that safe. Many of these mean the provider is down:
    check its status and the orderflow_payment_provider_* metrics."""

    def __init__(self, message: str, *, breaker_open: bool = False) -> None:
        super().__init__(message)
        self.breaker_open = breaker_open


class ProviderRejected(ProviderError):
    """The provider refused the request (a 4xx other than a decline, e.g. an
    unknown payment or a capture after a refund) or answered something
    unreadable. Retrying will not help: the request or the saga's state is wrong."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(f"HTTP {status} {error}: {message}")
        self.status, self.error, self.message = status, error, message


@dataclass(frozen=True)
class Authorization:
    approved: bool
    payment_id: str | None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class Capture:
    payment_id: str
    captured_cents: int


@dataclass(frozen=True)
class Refund:
    refund_id: str
    refunded_cents: int


@dataclass(frozen=True)
class Answer:
    """An HTTP answer of the provider that is not a transient failure."""

    status: int
    raw: bytes

    def json(self) -> dict[str, Any]:
        # Decimals parsed as Decimal: no float rounding between the wire and cents.
        try:
            body = json.loads(self.raw, parse_float=Decimal)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ProviderRejected(self.status, "unreadable_answer", f"not a JSON object: {self.raw[:200]!r}")
        return body


class TransientFailure(Exception):
    """One attempt failed in a way worth retrying."""


class PaymentProviderClient:
    """Authorize, capture and refund, with retries and a circuit breaker."""

    def __init__(self, base_url: str, *, api_key: str, timeout_s: float, attempts: int, backoff_initial_s: float,
                 backoff_max_s: float, breaker_failures: int, breaker_recovery_s: float,
                 tls: ssl.SSLContext | bool = True) -> None:
        if min(timeout_s, attempts, backoff_initial_s, backoff_max_s, breaker_failures,
               breaker_recovery_s) <= 0:
            raise ValueError("timeouts, attempts, backoffs and breaker settings must be positive")
        self._base_url = base_url.rstrip("/")
        self._auth = f"Bearer {api_key}"
        self._tls = tls  # how the provider's certificate is checked (https); never unverified
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._attempts = attempts
        self._backoff = wait_random_exponential(multiplier=backoff_initial_s, max=backoff_max_s)
        self._breaker = CircuitBreaker(failure_threshold=breaker_failures, recovery_timeout=breaker_recovery_s,
                                       expected_exception=ProviderUnavailable, name="payment_provider")
        self._guarded_post = self._breaker.decorate(self._post_with_retries)
        for step in STEPS:  # the failures at 0 from the start: the error-rate alert sees the first one
            for outcome in ("unavailable", "breaker_open"):
                PROVIDER_CALLS.labels(step, outcome)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self._tls))
        self._publish_breaker_state()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> PaymentProviderClient:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def breaker_state(self) -> str:
        """The breaker's state: "closed", "open", or "half_open" (open, recovery time over)."""
        return self._publish_breaker_state()

    # ------------------------------------------------------------------- steps

    async def authorize(self, order_id: str, customer_id: str, amount_cents: int, currency: str,
                        payment_method_id: str, version: int = 0) -> Authorization:
        """Authorize the order's payment request ``version`` (one key each: a changed order asks anew)."""
        payload = {"orderId": order_id, "customerId": customer_id, "amount": to_decimal(amount_cents),
                   "currency": currency, "paymentMethodId": payment_method_id}
        return await self._call("authorize", "/api/v1/payments/authorize", payload,
                                _versioned(f"authorize-{order_id}", version), read_authorization)

    async def capture(self, order_id: str, payment_id: str, amount_cents: int, version: int = 0) -> Capture:
        return await self._call("capture", f"/api/v1/payments/{quote(payment_id, safe='')}/capture",
                                {"amount": to_decimal(amount_cents)}, _versioned(f"capture-{order_id}", version),
                                read_capture)

    async def refund(self, order_id: str, payment_id: str, amount_cents: int, reason: str,
                     key_suffix: str | None = None) -> Refund:
        """Refund ``amount_cents``; one refund per order (a cancellation's), or per ``key_suffix``
        (an operator's refund request): a retry with the same key is refunded once."""
        key = f"refund-{order_id}" if key_suffix is None else f"refund-{order_id}-{key_suffix}"
        return await self._call("refund", f"/api/v1/payments/{quote(payment_id, safe='')}/refund",
                                {"amount": to_decimal(amount_cents), "reason": reason}, key, read_refund)

    # ------------------------------------------------------------------- plumbing

    async def _call(self, step: str, path: str, payload: dict[str, Any], key: str,
                    read: Callable[[Answer], tuple[T, str]]) -> T:
        """One call: breaker check, then up to ``attempts`` tries, then the
        step's result read from the answer; counted, timed and traced by outcome."""
        started = time.perf_counter()
        outcome = "failed"
        with tracing.span(f"payment {step}", tracing.SpanKind.CLIENT) as span:
            try:
                answer = await self._guarded_post(step, path, payload, key)
                outcome = "rejected"  # unless the answer reads as a result
                result, outcome = read(answer)
                return result
            except CircuitBreakerError:
                outcome = "breaker_open"
                raise ProviderUnavailable(
                    f"payment provider circuit open after {self._breaker.failure_count} failed calls; "
                    f"{step} not tried (next trial in about {self._breaker.open_remaining}s)",
                    breaker_open=True) from None
            except ProviderUnavailable:
                outcome = "unavailable"
                raise
            finally:
                PROVIDER_CALLS.labels(step, outcome).inc()
                PROVIDER_LATENCY.labels(step, outcome).observe(time.perf_counter() - started)
                self._publish_breaker_state()
                if span is not None:
                    span.set_attribute("orderflow.outcome", outcome)

    async def _post_with_retries(self, step: str, path: str, payload: dict[str, Any], key: str) -> Answer:
        retrying = AsyncRetrying(stop=stop_after_attempt(self._attempts), wait=self._backoff,
                                 retry=retry_if_exception_type(TransientFailure), reraise=True,
                                 before_sleep=_log_retry(step))
        try:
            return await retrying(self._post_once, path, payload, key)
        except TransientFailure as exc:
            raise ProviderUnavailable(
                f"payment provider failed {step} {self._attempts} times; last: {exc}") from exc

    async def _post_once(self, path: str, payload: dict[str, Any], key: str) -> Answer:
        if self._session is None:
            raise RuntimeError("PaymentProviderClient.start() was not awaited")
        headers = {"Content-Type": "application/json", "Idempotency-Key": key, "Authorization": self._auth,
                   **tracing.headers_for_http()}
        try:
            async with self._session.post(self._base_url + path, data=json.dumps(payload), headers=headers,
                                          timeout=self._timeout) as response:
                status, raw = response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientFailure(f"{type(exc).__name__}: {exc}") from exc
        if status >= 500 or status in TRANSIENT_STATUSES:
            raise TransientFailure(f"HTTP {status}")
        if status in CREDENTIALS_REFUSED:
            # our key, not the payment, is wrong: no customer is declined for it
            log.error("the payment provider refused orderflow's API key (HTTP %s): check "
                      "ORDERFLOW_PAYMENT_PROVIDER_API_KEY", status)
            raise TransientFailure(f"HTTP {status}: the provider refused our API key")
        return Answer(status, raw)

    def _publish_breaker_state(self) -> str:
        # The breaker turns half-open by the clock, not by an event, so the
        # gauge is refreshed whenever the state is read or a call ends.
        state = str(self._breaker.state)
        for name in BREAKER_STATES:
            BREAKER_STATE.labels(name).set(1 if name == state else 0)
        return state


def _log_retry(step: str) -> Any:
    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("payment provider %s attempt %d failed (%s); retrying in %.2fs",
                    step, state.attempt_number, error, wait)
    return before_sleep


# ----------------------------------------------------------------------- wire format


def to_decimal(cents: int) -> float:
    """Cents as the provider's decimal amount (exact up to 15 significant digits)."""
    if isinstance(cents, bool) or not isinstance(cents, int) or cents <= 0:
        raise ValueError(f"amount_cents must be a positive integer, not {cents!r}")
    return cents / 100


def read_authorization(answer: Answer) -> tuple[Authorization, str]:
    body, status = answer.json(), answer.status
    if status == 402:
        declined = Authorization(False, None, text_of(status, body, "errorCode"),
                                 text_of(status, body, "errorMessage"))
        return declined, "declined"
    expect_ok(answer, body)
    return Authorization(True, text_of(status, body, "paymentId")), "approved"


def read_capture(answer: Answer) -> tuple[Capture, str]:
    body, status = answer.json(), answer.status
    expect_ok(answer, body)
    return Capture(text_of(status, body, "paymentId"), cents_of(status, body, "capturedAmount")), "captured"


def read_refund(answer: Answer) -> tuple[Refund, str]:
    body, status = answer.json(), answer.status
    expect_ok(answer, body)
    return Refund(text_of(status, body, "refundId"), cents_of(status, body, "refundedAmount")), "refunded"


def expect_ok(answer: Answer, body: dict[str, Any]) -> None:
    if answer.status != 200:
        raise ProviderRejected(answer.status, str(body.get("error", "unexpected_status")),
                               str(body.get("message", "")))


def text_of(status: int, body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise ProviderRejected(status, "unreadable_answer", f"{name} missing in {body}")
    return value


def cents_of(status: int, body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ProviderRejected(status, "unreadable_answer", f"{name} is not an amount: {value!r}")
    cents = Decimal(value) * 100
    if cents != cents.to_integral_value():
        raise ProviderRejected(status, "unreadable_answer", f"{name} has fractions of a cent: {value!r}")
    return int(cents)


def _versioned(key: str, version: int) -> str:
    # version 0 keeps the key it always had, so a replay from before changes existed is recognised
    return key if version == 0 else f"{key}-v{version}"
