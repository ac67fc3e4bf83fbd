"""What every route handler of the gateway does around its own work: take the
id from the path, check the caller may see the customer it belongs to, read
the JSON body, and write one record to Kafka.

Shared by the order, customer and inventory routes. A bad path id answers 400
(so no record with an impossible key is ever written), a body that is not
JSON 400 and one that is not sent as JSON 415; a record the broker did not
acknowledge answers 503. What is not the caller's answers 404, the very
answer an unknown id gets, so a customer cannot tell another's ids exist.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

from aiohttp import web
from confluent_kafka import KafkaException
from pydantic import BaseModel, ValidationError

from orderflow import tracing
from orderflow.gateway.auth import caller
from orderflow.gateway.context import CONTEXT, GatewayContext
from orderflow.gateway.errors import RequestRejected, json_error
from orderflow.gateway.requests import field_errors, path_id_problem
from orderflow.schemas import catalog
from orderflow.tables import access

__all__ = ["body_as", "by_own_id", "id_for", "idempotency_key", "not_found", "path_id", "produce", "read_json", "sees",
           "seen_customer_id"]


def path_id(request: web.Request, name: str) -> str:
    """The id in path parameter ``name`` (e.g. order_id); 400 unless it is a
    well-formed id, so no record with an impossible key is ever written."""
    value = request.match_info[name]
    problem = path_id_problem(value)
    if problem is not None:
        label = re.sub(r"_(\w)", lambda m: m[1].upper(), name)
        raise RequestRejected(400, "invalid_request", f"{label} is not a valid id",
                              fields=[{"field": label, "problem": problem}])
    return value


def sees(request: web.Request, customer_id: str) -> bool:
    """Whether the caller may see this customer's orders and record (tables/access.py)."""
    return access.may_see(caller(request), customer_id)


Body = TypeVar("Body", bound=BaseModel)


async def body_as(request: web.Request, model: type[Body], what: str, required: bool = True) -> Body:
    """The JSON body as a ``model``; else a 400 naming each bad field (``what``: "the order", ...).
    Without ``required``, a request without a body reads as ``{}``; one with a body must send an object."""
    try:
        return model.model_validate(await read_json(request) if required or request.can_read_body else {})
    except ValidationError as exc:
        raise RequestRejected(400, "invalid_request", f"{what} has invalid fields", fields=field_errors(exc)) from None


def id_for(prefix: str, scope: str, idempotency_key: str | None, length: int) -> str:
    """A new id (``prefix`` + ``length`` hex digits): derived from ``scope`` and the client's
    Idempotency-Key, so a retried request names the same thing; random without a key."""
    if idempotency_key is None:
        return f"{prefix}{uuid.uuid4().hex[:length]}"
    digest = hashlib.sha256(f"{scope}\0{idempotency_key}".encode()).hexdigest()
    return f"{prefix}{digest[:length]}"


def idempotency_key(request: web.Request) -> str | None:
    """The request's Idempotency-Key header (1 to 200 characters), or None without one."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= 200:
        raise RequestRejected(400, "invalid_request", "Idempotency-Key must be 1 to 200 characters")
    return key


def not_found(kind: str, key: str) -> web.Response:
    """The answer for what does not exist, and for what is not the caller's (the same bytes)."""
    return json_error(404, "not_found", f"no {kind} {key!r}")


def seen_customer_id(request: web.Request) -> str:
    """The customerId in the path, if the caller may see that customer; else a 404 as for an unknown one."""
    customer_id = path_id(request, "customer_id")
    if not sees(request, customer_id):
        raise RequestRejected(404, "not_found", f"no customer {customer_id!r}")
    return customer_id


async def read_json(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send the body as application/json")
    try:
        return json.loads(await request.read())
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise web.HTTPBadRequest(text=f"body is not valid JSON: {exc}") from exc


async def produce(ctx: GatewayContext, spec: catalog.TopicSpec, key: str, kind: str,
                  record: dict[str, Any]) -> web.Response | None:
    """Write one record; None when the broker acknowledged it, else a 503."""
    catalog.check_writer(catalog.GATEWAY, spec)
    try:
        await ctx.producer.send(spec.name, key.encode(), ctx.codec.encode(f"{catalog.NAMESPACE}.{kind}", record),
                                tracing.headers_for_kafka())
    except (KafkaException, BufferError) as exc:
        return json_error(503, "unavailable", f"could not write to Kafka: {exc}")
    return None


async def by_own_id(request: web.Request, what: str, order_id_of: Callable[[str], str | None],
                    view: str, id_field: str) -> dict[str, Any] | web.Response:
    """The worker's row behind one of orderflow's ids that name their order (shp_/pay_<orderId>),
    or the 404 for an id not ours, not found, or not the caller's to see."""
    ctx = request.app[CONTEXT]
    own_id = path_id(request, f"{what}_id")
    order_id = order_id_of(own_id)
    if order_id is None:
        return not_found(what, own_id)
    status, body = await ctx.tracking.get_json(f"/{view}/{quote(order_id, safe='')}")
    if status != 200:
        return not_found(what, own_id) if status == 404 else web.json_response(body, status=status)
    if body[id_field] != own_id or not sees(request, body["customerId"]):
        return not_found(what, own_id)
    return dict(body)
