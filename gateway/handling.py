"""What every route handler of the gateway does around its own work: take the
id from the path, read the JSON body, and write one record to Kafka.

Shared by the order, customer and inventory routes. A bad path id answers 400
(so no record with an impossible key is ever written), a body that is not
JSON 400 and one that is not sent as JSON 415; a record the broker did not
acknowledge answers 503.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web
from confluent_kafka import KafkaException

from orderflow.gateway.context import GatewayContext
from orderflow.gateway.errors import RequestRejected, json_error
from orderflow.gateway.requests import path_id_problem
from orderflow.schemas import catalog

__all__ = ["path_id", "produce", "read_json"]


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
    if spec.writer != catalog.GATEWAY:
        raise RuntimeError(f"the gateway may not write {spec.name}: its writer is {spec.writer}")
    try:
        await ctx.producer.send(spec.name, key.encode(), ctx.codec.encode(f"{catalog.NAMESPACE}.{kind}", record))
    except (KafkaException, BufferError) as exc:
        return json_error(503, "unavailable", f"could not write to Kafka: {exc}")
    return None
