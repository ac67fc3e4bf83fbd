"""Client of the carrier's API, for the delivery service.

Consumes the carrier's HTTP API (``ORDERFLOW_CARRIER_URL``: book a shipment
with an idempotency key, read one, cancel one, read the event feed).
Produces its JSON answers, ``CarrierUnavailable`` when it cannot be reached
now, or ``CarrierRefused`` when it answers no for good (a 4xx). Owns one
aiohttp session (opened on first use, nothing at import or construction),
one circuit breaker and the orderflow_carrier_* metrics.

Retries (tenacity) cover what may pass: connection errors, timeouts and 5xx
answers, with exponential backoff and jitter; every call is safe to repeat
(a booking carries its idempotency key, a cancel and a read change nothing
twice). The breaker (circuitbreaker) opens after calls whose retries are all
spent, so an outage costs no timeouts per shipment.
"""

from __future__ import annotations

import ssl
import time
from typing import Any

import aiohttp
from circuitbreaker import CircuitBreaker, CircuitBreakerError
from prometheus_client import Histogram
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

__all__ = ["CALL_TIME", "CarrierClient", "CarrierRefused", "CarrierUnavailable"]

CALL_TIME = Histogram(
    "orderflow_carrier_call_seconds",
    "Time of one call to the carrier (its retries and backoff included), by call and outcome.",
    ["call", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


class CarrierUnavailable(Exception):
    """The carrier could not be reached or failed (after retries), or the breaker is open."""


class CarrierRefused(Exception):
    """The carrier answered 4xx: the call will never succeed as it is."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body.get('error', '')}: {body.get('message', '')}")
        self.status, self.body = status, body


class _Transient(Exception):
    pass


class CarrierClient:
    def __init__(self, base_url: str, *, timeout_s: float, attempts: int, backoff_initial_s: float,
                 backoff_max_s: float, breaker_failures: int, breaker_recovery_s: float,
                 tls: ssl.SSLContext | None = None) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._attempts = attempts
        self._backoff = wait_random_exponential(multiplier=backoff_initial_s, max=backoff_max_s)
        self._breaker = CircuitBreaker(failure_threshold=breaker_failures, recovery_timeout=breaker_recovery_s,
                                       expected_exception=CarrierUnavailable, name="carrier")
        self._guarded = self._breaker.decorate(self._with_retries)
        self._tls = tls
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> CarrierClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = None

    async def book(self, idempotency_key: str, reference: str) -> dict[str, Any]:
        return await self._call("book", "POST", "/api/v1/shipments", {"reference": reference},
                                {"Idempotency-Key": idempotency_key})

    async def read(self, carrier_shipment_id: str) -> dict[str, Any]:
        return await self._call("read", "GET", f"/api/v1/shipments/{carrier_shipment_id}")

    async def cancel(self, carrier_shipment_id: str) -> dict[str, Any] | None:
        """The cancelled shipment, or None when the carrier refuses: the parcel was picked up."""
        try:
            return await self._call("cancel", "POST", f"/api/v1/shipments/{carrier_shipment_id}/cancel", {})
        except CarrierRefused as exc:
            if exc.status == 409:
                return None
            raise

    async def events(self, after: int, limit: int) -> dict[str, Any]:
        return await self._call("events", "GET", f"/api/v1/events?after={after}&limit={limit}")

    async def _call(self, call: str, method: str, path: str, body: dict[str, Any] | None = None,
                    headers: dict[str, str] | None = None) -> dict[str, Any]:
        started, outcome = time.perf_counter(), "unavailable"
        try:
            answer: dict[str, Any] = await self._guarded(method, path, body, headers or {})
            outcome = "ok"
            return answer
        except CircuitBreakerError:
            outcome = "breaker_open"
            raise CarrierUnavailable(f"the carrier failed {self._breaker.failure_count} calls in a row; "
                                     f"next trial in about {self._breaker.open_remaining}s") from None
        except CarrierRefused:
            outcome = "refused"
            raise
        finally:
            CALL_TIME.labels(call, outcome).observe(time.perf_counter() - started)

    async def _with_retries(self, method: str, path: str, body: dict[str, Any] | None,
                            headers: dict[str, str]) -> dict[str, Any]:
        retrying = AsyncRetrying(stop=stop_after_attempt(self._attempts), wait=self._backoff,
                                 retry=retry_if_exception_type(_Transient), reraise=True)
        try:
            answer: dict[str, Any] = await retrying(self._once, method, path, body, headers)
            return answer
        except _Transient as exc:
            raise CarrierUnavailable(f"the carrier at {self._base} failed {self._attempts} times; "
                                     f"last: {exc}") from exc

    async def _once(self, method: str, path: str, body: dict[str, Any] | None,
                    headers: dict[str, str]) -> dict[str, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.request(method, self._base + path, json=body, headers=headers,
                                             ssl=self._tls if self._tls is not None else True) as response:
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise _Transient(f"{type(exc).__name__}: {exc}") from exc
        if response.status >= 500:
            raise _Transient(f"{response.status} {answer.get('error', '') if isinstance(answer, dict) else ''}")
        if response.status >= 400:
            raise CarrierRefused(response.status, answer if isinstance(answer, dict) else {})
        return answer if isinstance(answer, dict) else {}
