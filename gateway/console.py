"""The operator console's routes (operator scope, tables/access.py), the data
the operator page shows, and the caller's own identity for both pages:

- GET  /api/v1/me: who the token says is calling (subject, scopes, customerId).
- GET  /api/v1/admin/recent-orders?limit=N: the last N orders to reach each
  status, over every worker (each answers for its own partitions).
- GET  /api/v1/admin/status: ``orderflow status``'s report (brokers, the
  workers' readiness and partitions, lag per topic, dead letters waiting,
  open orders, the payment provider).
- GET  /api/v1/admin/dead-letters?limit=N: the newest dead letters with their
  reasons.
- POST /api/v1/admin/dead-letters/{position}/replay: re-produce one dead
  letter (``partition:offset``) to the topic it came from.

Status and dead letters read and write Kafka as the operator, not as the
gateway (``Settings.as_operator``): a gateway without the operator's
credentials on a secured cluster answers them 503. Those calls are blocking
(confluent-kafka's admin client and consumer), so they run in a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from orderflow import deadletters, status
from orderflow.agents import web_params
from orderflow.gateway.auth import caller
from orderflow.gateway.context import CONTEXT
from orderflow.gateway.errors import json_error
from orderflow.gateway.handling import path_id
from orderflow.gateway.presenters import present_summary
from orderflow.settings import Settings
from orderflow.tables import access
from orderflow.tables.clock import iso

__all__ = ["merge_recent", "present_dead_letter", "routes"]

ResultT = TypeVar("ResultT")
RECENT_DEFAULT, RECENT_MAX = 10, 20
DEAD_LETTERS_DEFAULT, DEAD_LETTERS_MAX = 50, 500


async def who_am_i(request: web.Request) -> web.Response:
    who = caller(request)
    customer_id = who.subject if access.Scope.CUSTOMER in who.scopes else None
    return web.json_response({"subject": who.subject, "scopes": sorted(s.value for s in who.scopes),
                              "customerId": customer_id})


def _limit(request: web.Request, default: int, high: int) -> int | web.Response:
    """The ``limit`` query parameter, or the 400 that names what is wrong with it."""
    try:
        return web_params.int_param(request.query, "limit", default, 1, high)
    except web_params.BadQuery as exc:
        return json_error(400, "invalid_request", str(exc))


async def recent_orders(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    limit = _limit(request, RECENT_DEFAULT, RECENT_MAX)
    if isinstance(limit, web.Response):
        return limit
    bodies, problems = await ctx.tracking.get_each_json(f"/recent-orders?limit={limit}")
    return web.json_response({"orders": merge_recent([b["orders"] for b in bodies], limit),
                              "unanswered": problems})


def merge_recent(per_worker: list[dict[str, list[dict[str, Any]]]], limit: int) -> dict[str, list[dict[str, Any]]]:
    """Each status's newest ``limit`` orders over the workers' answers, newest first,
    with amounts and times as the API shows them."""
    merged: dict[str, dict[str, dict[str, Any]]] = {}
    for answer in per_worker:
        for order_status, orders in answer.items():
            for order in orders:
                merged.setdefault(order_status, {})[order["orderId"]] = order
    return {order_status: [_summary(o) for o in sorted(found.values(), key=lambda o: -o["updatedAt"])[:limit]]
            for order_status, found in sorted(merged.items())}


def _summary(order: dict[str, Any]) -> dict[str, Any]:
    return {**present_summary(order), "customerId": order["customerId"], "lines": order["lines"]}  # type: ignore[arg-type]


async def _in_thread(settings: Settings, work: Callable[[Settings], ResultT]) -> ResultT | web.Response:
    """``work`` with the operator's settings, in a thread; a 503 when this gateway has none."""
    operator = settings.as_operator()
    if operator is None:
        return json_error(503, "console_unavailable", "this gateway has no operator credentials for Kafka "
                                                      "(ORDERFLOW_OPERATOR_KAFKA_USERNAME and a password)")
    return await asyncio.to_thread(work, operator)


async def cluster_status(request: web.Request) -> web.Response:
    settings = request.app[CONTEXT].settings
    report = await _in_thread(settings, lambda s: status.gather(s, timeout_s=5.0))
    if isinstance(report, web.Response):
        return report
    return web.json_response({**report, "healthy": status.healthy(report)})


def present_dead_letter(letter: deadletters.DeadLetter) -> dict[str, Any]:
    return {"position": letter.position, "at": iso(letter.timestamp_ms), "sourceTopic": letter.source_topic,
            "source": letter.source, "reason": letter.reason, "replayOf": letter.replay_of,
            "key": deadletters.preview(letter.key), "value": deadletters.preview(letter.value, 120)}


async def list_dead_letters(request: web.Request) -> web.Response:
    limit = _limit(request, DEAD_LETTERS_DEFAULT, DEAD_LETTERS_MAX)
    if isinstance(limit, web.Response):
        return limit
    try:
        found = await _in_thread(request.app[CONTEXT].settings,
                                 lambda s: deadletters.read(s.kafka, limit=limit, timeout=5.0))
    except deadletters.DeadLetterError as exc:
        return json_error(503, "unavailable", str(exc))
    if isinstance(found, web.Response):
        return found
    letters, total = found
    return web.json_response({"deadLetters": [present_dead_letter(x) for x in reversed(letters)], "total": total})


async def replay_dead_letter(request: web.Request) -> web.Response:
    position = path_id(request, "position")
    try:
        deadletters.parse_position(position)
    except deadletters.DeadLetterError as exc:
        return json_error(400, "invalid_request", str(exc))

    def replay(settings: Settings) -> list[deadletters.Replayed]:
        return deadletters.replay(settings.kafka, deadletters.fetch(settings.kafka, [position], timeout=5.0))

    try:
        done = await _in_thread(request.app[CONTEXT].settings, replay)
    except deadletters.NoSuchDeadLetter as exc:
        return json_error(404, "not_found", str(exc))
    except deadletters.NotReplayable as exc:
        return json_error(409, "not_replayable", str(exc))
    except deadletters.DeadLetterError as exc:
        return json_error(503, "unavailable", str(exc))
    if isinstance(done, web.Response):
        return done
    return web.json_response({"replayed": [{"deadLetter": r.dead_letter, "topic": r.topic, "partition": r.partition,
                                            "offset": r.offset} for r in done]})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/me", who_am_i),
        web.get("/api/v1/admin/recent-orders", recent_orders),
        web.get("/api/v1/admin/status", cluster_status),
        web.get("/api/v1/admin/dead-letters", list_dead_letters),
        web.post("/api/v1/admin/dead-letters/{position}/replay", replay_dead_letter),
    ]
