"""A carrier simulator: an aiohttp app that stands in for a parcel carrier's
booking and tracking API in local runs and tests.

Consumes the delivery agent's calls under /api/v1/shipments (book, read,
cancel) and scripting calls under /_sim (behaviour, advance a shipment,
reset). Produces the carrier's JSON answers, late or failing when the
behaviour says so; /healthz, /readyz and /metrics like every process of the
stack. Owns its shipments, in memory only, lost when the process ends.

A shipment moves label_created -> picked_up -> in_transit -> delivered on a
schedule fixed when it is booked (``pickedUpAfterS``, ``inTransitAfterS``,
``deliveredAfterS`` from the booking; ``null`` holds it until scripted), or
at once when ``POST /_sim/shipments/{id}/advance`` says so. Every status a
shipment reaches is also an entry of the carrier's event feed (GET
/api/v1/events?after=<seq>), which a shipper polls instead of each parcel. A booking carries
an Idempotency-Key: a repeat answers the first booking. A cancel succeeds
until the parcel is picked up and is refused (409) after, as a carrier's
would: the goods have left.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import Counter as PromCounter

__all__ = ["PROGRESS", "Behaviour", "create_carrier", "run_carrier"]

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CARRIER_NAME = "SimPost"
PROGRESS = ("label_created", "picked_up", "in_transit", "delivered")
CANCELLED = "cancelled"
TICK_S = 0.1


@dataclass(frozen=True)
class Behaviour:
    """How the carrier answers and how fast parcels move; GET/PUT /_sim/behaviour."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    outage: bool = False
    picked_up_after_s: float | None = 20.0
    in_transit_after_s: float | None = 40.0
    delivered_after_s: float | None = 60.0
    estimated_days: int = 3

    FIELDS = {"latencyMs": "latency_ms", "errorRate": "error_rate", "outage": "outage",
              "pickedUpAfterS": "picked_up_after_s", "inTransitAfterS": "in_transit_after_s",
              "deliveredAfterS": "delivered_after_s", "estimatedDays": "estimated_days"}

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, attr) for name, attr in self.FIELDS.items()}

    def merged(self, changes: Mapping[str, Any]) -> Behaviour:
        """This behaviour with the given JSON fields replaced (ValueError if one is bad)."""
        unknown = set(changes) - set(self.FIELDS)
        if unknown:
            raise ValueError(f"unknown behaviour fields: {sorted(unknown)}")
        update: dict[str, Any] = {}
        for name, value in changes.items():
            attr = self.FIELDS[name]
            if name == "outage":
                if not isinstance(value, bool):
                    raise ValueError("outage must be true or false")
            elif name.endswith("AfterS") and value is None:
                pass  # held until scripted
            elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0 \
                    or (name == "errorRate" and value > 1):
                bound = " and at most 1" if name == "errorRate" else ""
                raise ValueError(f"{name} must be a number at least 0{bound}")
            update[attr] = int(value) if name == "estimatedDays" else value
        return replace(self, **update)

    def schedule(self) -> tuple[float | None, ...]:
        """Seconds after booking at which the parcel reaches each status of PROGRESS."""
        return (0.0, self.picked_up_after_s, self.in_transit_after_s, self.delivered_after_s)


@dataclass
class Shipment:
    shipment_id: str
    reference: str
    tracking_number: str
    booked_at: float  # time.time()
    estimated_delivery: str
    status: str = PROGRESS[0]
    events: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"shipmentId": self.shipment_id, "reference": self.reference, "carrier": CARRIER_NAME,
                "trackingNumber": self.tracking_number, "status": self.status,
                "estimatedDelivery": self.estimated_delivery, "events": list(self.events)}


@dataclass
class Carrier:
    """The shipments, their event feed (every status any shipment reached, in order) and the
    schedule's due moves, earliest first."""

    behaviour: Behaviour
    rng: random.Random
    shipments: dict[str, Shipment] = field(default_factory=dict)
    by_key: dict[str, str] = field(default_factory=dict)
    feed: list[dict[str, Any]] = field(default_factory=list)
    due: list[tuple[float, str, int]] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)

    def move(self, shipment: Shipment, status: str, at: float) -> None:
        if shipment.status == CANCELLED or (status in PROGRESS and shipment.events
                                             and PROGRESS.index(status) <= PROGRESS.index(shipment.status)):
            return
        shipment.status = status
        event = {"status": status, "at": _iso(at)}
        shipment.events.append(event)
        self.feed.append({"seq": len(self.feed) + 1, "shipmentId": shipment.shipment_id,
                          "reference": shipment.reference, **event})

    def book(self, key: str, reference: str, now: float) -> Shipment:
        behaviour = self.behaviour
        shipment_id = f"sim_{self.rng.getrandbits(48):012x}"
        eta = (datetime.fromtimestamp(now, UTC) + timedelta(days=behaviour.estimated_days)).date().isoformat()
        shipment = Shipment(shipment_id, reference, f"SP{self.rng.getrandbits(40):013d}", now, eta)
        self.shipments[shipment_id] = shipment
        self.by_key[key] = shipment_id
        self.move(shipment, PROGRESS[0], now)
        for index, after in enumerate(behaviour.schedule()[1:], start=1):
            if after is not None:
                heapq.heappush(self.due, (now + after, shipment_id, index))
        return shipment

    def advance_due(self, now: float) -> None:
        while self.due and self.due[0][0] <= now:
            at, shipment_id, index = heapq.heappop(self.due)
            self.move(self.shipments[shipment_id], PROGRESS[index], at)


CARRIER: web.AppKey[Carrier] = web.AppKey("carrier")
METRICS: web.AppKey[CollectorRegistry] = web.AppKey("metrics")
CALLS: web.AppKey[PromCounter] = web.AppKey("calls")


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Problem(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def json_error(status: int, error: str, message: str) -> web.Response:
    return web.json_response({"error": error, "message": message}, status=status)


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise Problem(400, "invalid_json", f"the body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise Problem(400, "invalid_request", "the body must be a JSON object")
    return body


def _find(request: web.Request) -> Shipment:
    shipment = request.app[CARRIER].shipments.get(request.match_info["shipment_id"])
    if shipment is None:
        raise Problem(404, "not_found", f"no shipment {request.match_info['shipment_id']}")
    return shipment


async def book(request: web.Request) -> web.Response:
    carrier = request.app[CARRIER]
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        raise Problem(400, "missing_idempotency_key", "a booking needs an Idempotency-Key header")
    body = await _json_object(request)
    reference = body.get("reference")
    if not isinstance(reference, str) or not reference:
        raise Problem(400, "invalid_request", "reference (the shipper's order id) is required")
    if key in carrier.by_key:
        return web.json_response(carrier.shipments[carrier.by_key[key]].to_json(), status=200)
    return web.json_response(carrier.book(key, reference, time.time()).to_json(), status=201)


async def read(request: web.Request) -> web.Response:
    return web.json_response(_find(request).to_json())


async def cancel(request: web.Request) -> web.Response:
    shipment = _find(request)
    if shipment.status not in (CANCELLED, PROGRESS[0]):
        raise Problem(409, "already_picked_up",
                      f"shipment {shipment.shipment_id} is {shipment.status}: it cannot be cancelled")
    request.app[CARRIER].move(shipment, CANCELLED, time.time())
    return web.json_response(shipment.to_json())


async def events(request: web.Request) -> web.Response:
    """The feed: every status change after sequence number ``after``, oldest first, at most ``limit``."""
    try:
        after = int(request.query.get("after", "0"))
        limit = min(max(int(request.query.get("limit", "500")), 1), 5_000)
    except ValueError as exc:
        raise Problem(400, "invalid_request", "after and limit must be integers") from exc
    feed = request.app[CARRIER].feed
    found = feed[max(after, 0):max(after, 0) + limit]
    return web.json_response({"events": found, "last": found[-1]["seq"] if found else max(after, 0)})


async def advance(request: web.Request) -> web.Response:
    """Script one shipment: move it to ``status`` now (never back)."""
    shipment = _find(request)
    status = (await _json_object(request)).get("status")
    if status not in PROGRESS:
        raise Problem(400, "invalid_request", f"status must be one of {list(PROGRESS)}")
    if shipment.status == CANCELLED:
        raise Problem(409, "cancelled", f"shipment {shipment.shipment_id} was cancelled")
    request.app[CARRIER].move(shipment, status, time.time())
    return web.json_response(shipment.to_json())


async def find_by_reference(request: web.Request) -> web.Response:
    reference = request.match_info["reference"]
    found = [s.to_json() for s in request.app[CARRIER].shipments.values() if s.reference == reference]
    return web.json_response({"shipments": found})


async def list_shipments(request: web.Request) -> web.Response:
    """Every shipment ever booked, for checking a run (as the payment simulator's ledger is)."""
    return web.json_response({"shipments": [s.to_json() for s in request.app[CARRIER].shipments.values()]})


async def get_behaviour(request: web.Request) -> web.Response:
    return web.json_response(request.app[CARRIER].behaviour.to_json())


async def put_behaviour(request: web.Request) -> web.Response:
    carrier = request.app[CARRIER]
    try:
        carrier.behaviour = carrier.behaviour.merged(await _json_object(request))
    except ValueError as exc:
        raise Problem(400, "invalid_behaviour", str(exc)) from exc
    return web.json_response(carrier.behaviour.to_json())


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(request.app[METRICS]), content_type=CONTENT_TYPE_LATEST.split(";")[0])


@web.middleware
async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Counts each /api call, then applies the scripted outage, latency and errors."""
    endpoint = request.match_info.route.name
    if endpoint is None or not request.path.startswith("/api/"):
        return await handler(request)
    carrier = request.app[CARRIER]
    carrier.calls[endpoint] += 1
    request.app[CALLS].labels(endpoint).inc()
    behaviour = carrier.behaviour
    if behaviour.outage:
        return json_error(503, "outage", "the carrier is down (scripted outage)")
    if behaviour.latency_ms > 0:
        await request.read()
        await asyncio.sleep(behaviour.latency_ms / 1000)
    if carrier.rng.random() < behaviour.error_rate:
        if carrier.rng.random() < 0.5:
            await handler(request)  # it took effect; only the reply is lost
        return json_error(503, "injected_error", "the carrier failed (scripted error)")
    return await handler(request)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Problem as exc:
        return json_error(exc.status, exc.error, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return json_error(exc.status, exc.reason.lower().replace(" ", "_"), f"{exc.reason}: {request.path}")


def create_carrier(behaviour: Behaviour | None = None, *, seed: int | None = None) -> web.Application:
    app = web.Application(middlewares=[fault_middleware, error_middleware], client_max_size=64 * 1024)
    app[CARRIER] = Carrier(behaviour or Behaviour(), random.Random(seed))
    app[METRICS] = CollectorRegistry(auto_describe=True)
    app[CALLS] = PromCounter("orderflow_carrier_sim_calls", "Calls to the carrier simulator's API, by endpoint.",
                             ["endpoint"], registry=app[METRICS])
    app.add_routes([
        web.post("/api/v1/shipments", book, name="book"),
        web.get("/api/v1/shipments/{shipment_id}", read, name="read"),
        web.post("/api/v1/shipments/{shipment_id}/cancel", cancel, name="cancel"),
        web.get("/api/v1/events", events, name="events"),
        web.get("/_sim/behaviour", get_behaviour),
        web.put("/_sim/behaviour", put_behaviour),
        web.post("/_sim/shipments/{shipment_id}/advance", advance),
        web.get("/_sim/references/{reference}", find_by_reference),
        web.get("/_sim/shipments", list_shipments),
        web.get("/healthz", healthz),
        web.get("/readyz", healthz),
        web.get("/metrics", metrics),
    ])
    app.cleanup_ctx.append(_schedule)
    return app


async def _schedule(app: web.Application) -> AsyncIterator[None]:
    """Moves parcels along their schedules, ten times a second."""
    async def tick() -> None:
        while True:
            app[CARRIER].advance_due(time.time())
            await asyncio.sleep(TICK_S)

    task = asyncio.create_task(tick())
    yield
    task.cancel()


def run_carrier(host: str, port: int, behaviour: Behaviour | None = None) -> None:
    """Serve the simulator until SIGINT or SIGTERM."""
    logging.basicConfig(level="INFO", format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")
    log.info("carrier simulator on %s:%d", host, port)
    web.run_app(create_carrier(behaviour), host=host, port=port, access_log=None, print=None, shutdown_timeout=5)
