"""A payment provider simulator: an aiohttp app that stands in for the external
payment API in local runs and tests.

Consumes: the payment client's calls under /api/v1/payments (authorize,
capture, refund, read) and scripting calls under /_sim (behaviour, reset,
ledger). Produces: the provider's JSON answers, late or failing when the
current behaviour says so; /healthz, /readyz and /metrics like every process
of the stack. Owns: its state, in memory only (payments, idempotency
records, call counts), lost when the process ends.

Amounts on the wire are decimal numbers in the currency's unit (200.00); inside
they are integer cents. Half of the errors injected by ``errorRate`` are
answered after the call took effect, as when a reply is lost on its way back:
a client that retries without an idempotency key would charge twice, and the
ledger would show it. Every call that moves money carries an Idempotency-Key:
a repeat replays the first answer, a new key on a payment is a new (partial)
capture or refund, and the ledger counts each one that moved money. An outage
answers 503 before anything happens. As a real provider, it takes calls to
/api only with its API key (``Authorization: Bearer <key>``; 401 otherwise).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import random
import ssl
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["DEFAULT_DECLINES", "Behaviour", "create_payment_provider", "run_payment_provider"]

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

DEFAULT_DECLINES: Mapping[str, str] = {
    "pm_insufficient_funds": "insufficient_funds",
    "pm_card_declined": "card_declined",
}
DECLINE_MESSAGES: Mapping[str, str] = {
    "insufficient_funds": "Card declined - insufficient funds",
    "card_declined": "Card declined",
}
AUTHORIZATION_LIFETIME = timedelta(days=7)
# Chance that an injected error is answered after the call took effect.
LOST_REPLY_SHARE = 0.5


@dataclass(frozen=True)
class Behaviour:
    """How the provider misbehaves; scripted over GET/PUT /_sim/behaviour."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    outage: bool = False
    decline_methods: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_DECLINES))

    def to_json(self) -> dict[str, Any]:
        return {"latencyMs": self.latency_ms, "errorRate": self.error_rate, "outage": self.outage,
                "declineMethods": dict(self.decline_methods)}

    def merged(self, changes: Mapping[str, Any]) -> Behaviour:
        """This behaviour with the given JSON fields replaced (ValueError if one is bad).

        ``declineMethods`` replaces the whole map, so an entry can be removed."""
        unknown = set(changes) - set(self.to_json())
        if unknown:
            raise ValueError(f"unknown behaviour fields: {sorted(unknown)}")
        update: dict[str, Any] = {}
        if "latencyMs" in changes:
            update["latency_ms"] = _number(changes["latencyMs"], "latencyMs", 0.0, 60_000.0)
        if "errorRate" in changes:
            update["error_rate"] = _number(changes["errorRate"], "errorRate", 0.0, 1.0)
        if "outage" in changes:
            if not isinstance(changes["outage"], bool):
                raise ValueError("outage must be true or false")
            update["outage"] = changes["outage"]
        if "declineMethods" in changes:
            update["decline_methods"] = _decline_map(changes["declineMethods"])
        return replace(self, **update)


def _number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal) or not low <= value <= high:
        raise ValueError(f"{name} must be a number from {low:g} to {high:g}")
    return float(value)


def _decline_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in value.items()):
        raise ValueError("declineMethods must map payment method ids to error codes")
    return dict(value)


# ----------------------------------------------------------------------- state


@dataclass
class Payment:
    payment_id: str
    order_id: str
    customer_id: str
    amount_cents: int
    currency: str
    payment_method_id: str
    expires_at: str
    status: str = "authorized"
    authorize_calls: int = 1
    # Every capture and refund that moved money, by its Idempotency-Key: a
    # repeated key replays the first answer; a new key is a new movement (as
    # with providers that take partial captures and refunds), so a client
    # that loses its key charges twice and the ledger shows it.
    captures: dict[str, Movement] = field(default_factory=dict)
    refunds: dict[str, Movement] = field(default_factory=dict)

    @property
    def captured_cents(self) -> int:
        return sum(m.amount_cents for m in self.captures.values())

    @property
    def refunded_cents(self) -> int:
        return sum(m.amount_cents for m in self.refunds.values())


@dataclass(frozen=True)
class Movement:
    """One capture or refund: its amount, and the answer every repeat of its key gets."""

    amount_cents: int
    answer: dict[str, Any]


@dataclass
class Decline:
    order_id: str
    payment_method_id: str
    error_code: str
    authorize_calls: int = 1


@dataclass
class AuthorizeRecord:
    """What an Idempotency-Key was first used for, and the answer it got."""

    request: dict[str, Any]
    status: int
    answer: dict[str, Any]
    subject: Payment | Decline


@dataclass
class Provider:
    behaviour: Behaviour
    rng: random.Random
    payments: dict[str, Payment] = field(default_factory=dict)
    declines: list[Decline] = field(default_factory=list)
    authorizations: dict[str, AuthorizeRecord] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)

    def reset(self, seed: int | None) -> None:
        self.behaviour = Behaviour()
        self.rng = random.Random(seed)
        self.payments.clear()
        self.declines.clear()
        self.authorizations.clear()
        self.calls.clear()


PROVIDER = web.AppKey("provider", Provider)


class Problem(Exception):
    """An error answer: raised by handlers, turned into JSON by the middleware."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


# ----------------------------------------------------------------------- wire format


def json_error(status: int, error: str, message: str) -> web.Response:
    return web.json_response({"error": error, "message": message}, status=status)


def money(cents: int) -> float:
    # The nearest double prints as the exact two-decimal amount for any amount
    # of up to 15 significant digits.
    return cents / 100


def cents_of(value: Any, name: str = "amount") -> int:
    """Integer cents of a positive decimal amount with at most two decimals."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise Problem(400, "invalid_request", f"{name} must be a decimal number")
    try:
        cents = Decimal(value) * 100
        if cents <= 0 or cents != cents.to_integral_value():
            raise InvalidOperation
    except InvalidOperation:
        raise Problem(400, "invalid_request", f"{name} must be positive with at most two decimals") from None
    return int(cents)


def text_field(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise Problem(400, "invalid_request", f"{name} must be a non-empty string")
    return value


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; decimals stay Decimal so amounts are exact."""
    if not request.body_exists:
        return {}
    try:
        body = await request.json(loads=partial(json.loads, parse_float=Decimal))
    except ValueError:
        raise Problem(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise Problem(400, "invalid_request", "the body must be a JSON object")
    return body


def now_iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat(timespec="seconds").replace("+00:00", "Z")


# ----------------------------------------------------------------------- payments API


async def authorize(request: web.Request) -> web.Response:
    provider = request.app[PROVIDER]
    key = idempotency_key(request)
    body = await json_body(request)
    order_id, customer_id = text_field(body, "orderId"), text_field(body, "customerId")
    method_id, currency = text_field(body, "paymentMethodId"), text_field(body, "currency")
    amount_cents = cents_of(body.get("amount"))

    earlier = provider.authorizations.get(key)
    if earlier is not None:
        if earlier.request != body:
            raise Problem(409, "idempotency_key_reused",
                          f"Idempotency-Key {key!r} was used for a different request")
        earlier.subject.authorize_calls += 1
        return web.json_response(earlier.answer, status=earlier.status)

    error_code = provider.behaviour.decline_methods.get(method_id)
    subject: Payment | Decline
    answer: dict[str, Any]
    if error_code is not None:
        subject = Decline(order_id, method_id, error_code)
        provider.declines.append(subject)
        status, answer = 402, {"status": "declined", "errorCode": error_code,
                               "errorMessage": DECLINE_MESSAGES.get(error_code, f"Declined ({error_code})")}
    else:
        subject = Payment(f"pay_{uuid.uuid4().hex[:16]}", order_id, customer_id, amount_cents, currency,
                          method_id, now_iso(AUTHORIZATION_LIFETIME))
        provider.payments[subject.payment_id] = subject
        status, answer = 200, {"paymentId": subject.payment_id, "orderId": order_id, "status": "authorized",
                               "amount": money(amount_cents), "expiresAt": subject.expires_at}
    provider.authorizations[key] = AuthorizeRecord(body, status, answer, subject)
    return web.json_response(answer, status=status)


def find_payment(request: web.Request) -> Payment:
    payment_id = request.match_info["payment_id"]
    payment = request.app[PROVIDER].payments.get(payment_id)
    if payment is None:
        raise Problem(404, "payment_not_found", f"no payment {payment_id!r}")
    return payment


def idempotency_key(request: web.Request) -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        raise Problem(400, "missing_idempotency_key", "the Idempotency-Key header is required")
    return key


def replayed(movements: dict[str, Movement], key: str, amount_cents: int) -> Movement | None:
    """The earlier movement of this key (409 if it was for another amount)."""
    earlier = movements.get(key)
    if earlier is not None and earlier.amount_cents != amount_cents:
        raise Problem(409, "idempotency_key_reused", f"Idempotency-Key {key!r} was used for a different amount")
    return earlier


async def capture(request: web.Request) -> web.Response:
    payment = find_payment(request)
    key = idempotency_key(request)
    amount_cents = cents_of((await json_body(request)).get("amount"))
    if payment.status == "refunded":
        raise Problem(409, "payment_refunded", f"payment {payment.payment_id} was refunded")
    earlier = replayed(payment.captures, key, amount_cents)
    if earlier is None:
        if amount_cents > payment.amount_cents - payment.captured_cents:
            raise Problem(400, "invalid_amount", "the capture exceeds the authorized amount left")
        payment.status = "captured"
        earlier = payment.captures[key] = Movement(amount_cents, {
            "paymentId": payment.payment_id, "captureId": f"cap_{uuid.uuid4().hex[:16]}", "status": "captured",
            "capturedAmount": money(amount_cents), "capturedAt": now_iso()})
    return web.json_response(earlier.answer)


async def refund(request: web.Request) -> web.Response:
    payment = find_payment(request)
    key = idempotency_key(request)
    body = await json_body(request)
    amount_cents = cents_of(body.get("amount"))
    if not isinstance(body.get("reason", ""), str):
        raise Problem(400, "invalid_request", "reason must be a string")
    earlier = replayed(payment.refunds, key, amount_cents)
    if earlier is None:
        if not payment.captures:
            raise Problem(409, "payment_not_captured", f"payment {payment.payment_id} is not captured")
        if amount_cents > payment.captured_cents - payment.refunded_cents:
            raise Problem(400, "invalid_amount", "the refund exceeds the captured amount left")
        payment.status = "refunded"
        earlier = payment.refunds[key] = Movement(amount_cents, {
            "refundId": f"ref_{uuid.uuid4().hex[:16]}", "paymentId": payment.payment_id, "status": "refunded",
            "refundedAmount": money(amount_cents), "refundedAt": now_iso()})
    return web.json_response(earlier.answer)


async def read_payment(request: web.Request) -> web.Response:
    payment = find_payment(request)
    view: dict[str, Any] = {
        "paymentId": payment.payment_id, "orderId": payment.order_id, "customerId": payment.customer_id,
        "status": payment.status, "amount": money(payment.amount_cents), "currency": payment.currency,
        "paymentMethodId": payment.payment_method_id, "expiresAt": payment.expires_at,
    }
    if payment.captures:
        view["capturedAmount"] = money(payment.captured_cents)
    if payment.refunds:
        view["refundedAmount"] = money(payment.refunded_cents)
    return web.json_response(view)


# ----------------------------------------------------------------------- scripting API


async def get_behaviour(request: web.Request) -> web.Response:
    return web.json_response(request.app[PROVIDER].behaviour.to_json())


async def put_behaviour(request: web.Request) -> web.Response:
    provider = request.app[PROVIDER]
    try:
        provider.behaviour = provider.behaviour.merged(await json_body(request))
    except ValueError as exc:
        raise Problem(400, "invalid_behaviour", str(exc)) from None
    log.info("behaviour now %s", provider.behaviour.to_json())
    return web.json_response(provider.behaviour.to_json())


async def reset(request: web.Request) -> web.Response:
    """Forget every payment and count; behaviour back to the defaults.
    An optional {"seed": n} makes the injected errors repeatable."""
    seed = (await json_body(request)).get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise Problem(400, "invalid_request", "seed must be an integer")
    request.app[PROVIDER].reset(seed)
    return web.json_response({"status": "reset"})


async def ledger(request: web.Request) -> web.Response:
    provider = request.app[PROVIDER]
    payments = list(provider.payments.values())
    return web.json_response({
        "payments": [{"paymentId": p.payment_id, "orderId": p.order_id, "amount": money(p.amount_cents),
                      "status": p.status, "authorizeCalls": p.authorize_calls,
                      # every capture and refund that moved money, not whether one did
                      "captures": len(p.captures), "refunds": len(p.refunds),
                      "capturedAmount": money(p.captured_cents), "refundedAmount": money(p.refunded_cents)}
                     for p in payments],
        "declines": [{"orderId": d.order_id, "paymentMethodId": d.payment_method_id,
                      "errorCode": d.error_code, "authorizeCalls": d.authorize_calls}
                     for d in provider.declines],
        "capturedTotal": money(sum(p.captured_cents for p in payments)),
        "refundedTotal": money(sum(p.refunded_cents for p in payments)),
        # Every HTTP call that reached an /api endpoint, injected failures included.
        "calls": dict(provider.calls),
    })


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    # Nothing to wait for (no broker, no state to load): serving means ready.
    # A scripted outage is the provider's behaviour, not the process's health.
    return web.json_response({"ready": True, "status": "ready"})


class ProviderCollector(Collector):
    """The simulator's metrics, read from its state at each scrape.

    One registry per app (not prometheus-client's global one), so several
    simulators in one process, as in the tests, each count only their own."""

    def __init__(self, provider: Provider) -> None:
        self._provider = provider

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        provider = self._provider
        calls = CounterMetricFamily("orderflow_payment_sim_calls", "Calls to the payment API, by endpoint "
                                    "(injected failures included; /_sim/reset zeroes them).", labels=["endpoint"])
        for endpoint, count in sorted(provider.calls.items()):
            calls.add_metric([endpoint], count)
        yield calls
        payments = GaugeMetricFamily("orderflow_payment_sim_payments", "Payments held, by status.",
                                     labels=["status"])
        for status, count in sorted(Counter(p.status for p in provider.payments.values()).items()):
            payments.add_metric([status], count)
        yield payments
        yield GaugeMetricFamily("orderflow_payment_sim_outage", "1 while an outage is scripted.",
                                value=int(provider.behaviour.outage))


METRICS = web.AppKey("metrics", CollectorRegistry)


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(request.app[METRICS]),
                        content_type=CONTENT_TYPE_LATEST.split(";")[0])


# ----------------------------------------------------------------------- middlewares


def api_key_middleware(api_key: str) -> Any:
    """The /api routes want ``Authorization: Bearer <the provider's API key>``, as a real provider's do;
    the /_sim control routes, health and metrics stay open (they are the simulator's, not the provider's)."""
    expected = api_key.encode()

    @web.middleware
    async def check_key(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), expected):
            request.app[PROVIDER].calls["unauthorized"] += 1
            response = json_error(401, "unauthorized", "send Authorization: Bearer <your API key>")
            response.headers["WWW-Authenticate"] = 'Bearer realm="payments"'
            return response
        return await handler(request)

    return check_key


@web.middleware
async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Counts each /api call, then applies the scripted outage, latency and errors."""
    endpoint = request.match_info.route.name
    if endpoint is None or not request.path.startswith("/api/"):
        return await handler(request)
    provider = request.app[PROVIDER]
    provider.calls[endpoint] += 1
    behaviour = provider.behaviour
    if behaviour.outage:
        return json_error(503, "outage", "the payment provider is down (scripted outage)")
    if behaviour.latency_ms > 0:
        # The request arrives in full and is acted on late: a client that gave
        # up waiting must not assume nothing happened.
        await request.read()
        await asyncio.sleep(behaviour.latency_ms / 1000)
    if provider.rng.random() < behaviour.error_rate:
        if provider.rng.random() < LOST_REPLY_SHARE:
            await handler(request)  # the call takes effect; only its reply is lost
        return json_error(503, "injected_error", "the payment provider failed (scripted error)")
    return await handler(request)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error as JSON {error, message}, aiohttp's own 404/405 included."""
    try:
        return await handler(request)
    except Problem as exc:
        return json_error(exc.status, exc.error, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = f"no such resource: {request.path}" if exc.status == 404 else exc.reason
        return json_error(exc.status, exc.reason.lower().replace(" ", "_"), message)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, "internal_error", "the payment provider failed")


# ----------------------------------------------------------------------- app


def create_payment_provider(api_key: str, behaviour: Behaviour | None = None, *,
                            seed: int | None = None) -> web.Application:
    """The simulator app, which admits calls with ``api_key``. ``seed`` makes the injected errors repeatable."""
    if not api_key:
        raise ValueError("the payment provider needs an API key to accept (ORDERFLOW_PAYMENT_PROVIDER_API_KEY)")
    # The fault middleware is outermost so a lost reply can run the handler
    # (errors already turned into responses) and still answer 503; a call
    # without the key is refused before it counts or fails.
    app = web.Application(middlewares=[api_key_middleware(api_key), fault_middleware, error_middleware],
                          client_max_size=64 * 1024)
    app[PROVIDER] = Provider(behaviour or Behaviour(), random.Random(seed))
    app[METRICS] = CollectorRegistry(auto_describe=True)
    app[METRICS].register(ProviderCollector(app[PROVIDER]))
    app.add_routes([
        web.post("/api/v1/payments/authorize", authorize, name="authorize"),
        web.post("/api/v1/payments/{payment_id}/capture", capture, name="capture"),
        web.post("/api/v1/payments/{payment_id}/refund", refund, name="refund"),
        web.get("/api/v1/payments/{payment_id}", read_payment, name="read"),
        web.get("/_sim/behaviour", get_behaviour),
        web.put("/_sim/behaviour", put_behaviour),
        web.post("/_sim/reset", reset),
        web.get("/_sim/ledger", ledger),
        web.get("/healthz", healthz),
        web.get("/readyz", readyz),
        web.get("/metrics", metrics),
    ])
    app.cleanup_ctx.append(_announce)
    return app


async def _announce(app: web.Application) -> AsyncIterator[None]:
    log.info("payment provider simulator started")
    yield
    log.info("payment provider simulator stopped")


def run_payment_provider(host: str, port: int, api_key: str, tls: ssl.SSLContext | None = None) -> None:
    """Serve the simulator (over https with ``tls``) until SIGINT or SIGTERM, then shut down cleanly."""
    logging.basicConfig(level="INFO",
                        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")
    web.run_app(create_payment_provider(api_key), host=host, port=port, ssl_context=tls, access_log=None, print=None,
                shutdown_timeout=5)
