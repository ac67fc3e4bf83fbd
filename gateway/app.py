"""The gateway's aiohttp application: the order routes, /healthz, /readyz and
/metrics, request timing, JSON errors, authentication (every /api/v1 route
needs a bearer token or an API key; ``gateway/auth.py``), rate limits
(``gateway/rate_limit.py``), and the lifecycle of its Kafka
producer and worker client (opened on startup, never at import), and one
span and one access-log line (``orderflow.access``) per request.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator

from aiohttp import web

from orderflow import tracing
from orderflow.apikeys import KeyFollower
from orderflow.certs import client_context
from orderflow.gateway import console, customers, inventory, openapi, orders, pages, payments
from orderflow.gateway.auth import AUTHENTICATOR, Authenticator, auth_middleware, normalised, operation_ids
from orderflow.gateway.context import CONTEXT, GatewayContext
from orderflow.gateway.errors import Handler, error_middleware
from orderflow.gateway.producer import AsyncProducer
from orderflow.gateway.rate_limit import RATE_LIMITER, RateLimiter, add_rate_limit_headers, rate_limit_middleware
from orderflow.gateway.tracking import TrackingClient, WorkersUnavailable
from orderflow.metrics import (
    BROKER_REACHABLE,
    CONTENT_TYPE_LATEST,
    GATEWAY_IN_FLIGHT,
    HTTP_REQUESTS,
    READY,
    exposition,
)
from orderflow.readiness import BrokerProbe
from orderflow.schemas.codec import Codec
from orderflow.schemas.registry import codec_for
from orderflow.settings import Settings
from orderflow.tables import access

__all__ = ["create_gateway"]

ACCESS_LOG = logging.getLogger("orderflow.access")


@web.middleware
async def timing_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Times, counts, traces and logs each request; answers with its trace
    (``traceparent``, when tracing is on) and request id (``X-Request-ID``: the
    caller's, or a new one)."""
    started = time.perf_counter()
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    request_id = request.headers.get(tracing.REQUEST_ID) or uuid.uuid4().hex
    parent = tracing.parent_from_http(request.headers)
    with GATEWAY_IN_FLIGHT.track_inprogress(), \
            tracing.span(f"{request.method} {route}", tracing.SpanKind.SERVER, parent,
                         {"http.request.method": request.method, "http.route": route}) as span:
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # aiohttp's own answers (e.g. 404 unmatched) are responses too
            response = exc
        if span is not None:
            span.set_attribute("http.response.status_code", response.status)
            if response.status >= 500:
                tracing.fail(span, f"HTTP {response.status}")
            if not response.prepared:  # a stream (SSE) sent its headers already
                response.headers.update(tracing.headers_for_http())
    if not response.prepared:
        response.headers[tracing.REQUEST_ID] = request_id
    elapsed = time.perf_counter() - started
    HTTP_REQUESTS.labels(route, str(response.status)).observe(elapsed)
    ACCESS_LOG.info("%s %s %d %.1f ms", request.method, route, response.status, elapsed * 1000,
                    extra={"method": request.method, "route": route, "status": response.status,
                           "latencyMs": round(elapsed * 1000, 2), "requestId": request_id,
                           "traceId": tracing.trace_id_of(span)})
    if isinstance(response, web.HTTPException):
        raise response
    return response


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    """Ready: the broker answers a metadata request and a worker is ready."""
    ctx = request.app[CONTEXT]
    reachable, why = await ctx.broker.check()
    if not reachable:
        return web.json_response({"ready": False, "status": why}, status=503)
    try:
        answer = await ctx.tracking.get("/readyz")
    except WorkersUnavailable as exc:
        return web.json_response({"ready": False, "status": f"no worker: {exc}"}, status=503)
    if answer.status != 200:
        return web.json_response({"ready": False, "status": "no worker ready"}, status=503)
    return web.json_response({"ready": True, "status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    reachable, _ = await request.app[CONTEXT].broker.check()  # cached: a scrape asks at most every few s
    BROKER_REACHABLE.set(1 if reachable else 0)
    READY.set(1 if reachable else 0)  # the gateway's own part of /readyz (its workers are scraped themselves)
    return web.Response(body=exposition(), content_type=CONTENT_TYPE_LATEST.split(";")[0])


def create_gateway(settings: Settings, codec: Codec | None = None) -> web.Application:
    codec = codec or codec_for(settings)
    keys = KeyFollower(settings.kafka, codec) if settings.auth_enabled else None
    authenticator = Authenticator(settings, keys)  # AuthConfigError: the gateway does not start
    limiter = RateLimiter(settings, keys)
    operations = operation_ids(openapi.OPERATIONS)
    app = web.Application(middlewares=[timing_middleware, error_middleware,
                                       auth_middleware(authenticator, operations), rate_limit_middleware(limiter)],
                          client_max_size=256 * 1024)
    app[AUTHENTICATOR] = authenticator
    app[RATE_LIMITER] = limiter
    app.on_response_prepare.append(add_rate_limit_headers)
    producer = AsyncProducer(settings.kafka)
    ctx = GatewayContext(
        settings=settings,
        codec=codec,
        producer=producer,
        tracking=TrackingClient(settings.worker_url_list, settings.request_timeout_s,
                                client_context(settings.tls_ca_file)),
        broker=BrokerProbe(producer.ping),
    )
    app[CONTEXT] = ctx
    app.cleanup_ctx.append(_lifecycle)
    app.add_routes([web.get("/healthz", healthz), web.get("/readyz", readyz),
                    web.get("/metrics", metrics), web.get("/openapi.json", openapi.serve),
                    *orders.routes(), *payments.routes(), *inventory.routes(),
                    *customers.routes(), *console.routes(), *pages.routes()])
    _check_rules(app, operations)
    return app


def _check_rules(app: web.Application, operations: dict[tuple[str, str], str]) -> None:
    """Every route names its operation and the operation its access rule (tables/access.py)."""
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue
        operation = operations.get((route.method, normalised(route.resource.canonical)))
        if operation is None or access.rule_for(operation) is None:
            raise RuntimeError(f"{route.method} {route.resource.canonical} has no access rule in tables/access.py")


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    ctx = app[CONTEXT]
    await app[AUTHENTICATOR].start()
    ctx.producer.start()
    await ctx.tracking.start()
    yield
    await ctx.tracking.close()
    await app[AUTHENTICATOR].close()
    ctx.producer.stop()
