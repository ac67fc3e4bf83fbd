"""Order routes of the gateway: POST /api/v1/orders (validate, produce a
PlaceOrder keyed by orderId to orders.commands, answer 202) and
GET /api/v1/orders/{orderId} (the orders table, through a worker).

No business rules here: the agents decide, the gateway only checks the shape.
"""

from __future__ import annotations

import json
import time
import uuid

from aiohttp import web
from confluent_kafka import KafkaException

from orderflow.gateway.context import GatewayContext
from orderflow.gateway.errors import json_error
from orderflow.gateway.requests import PlaceOrderRequest, ValidationError, field_errors, to_place_order
from orderflow.gateway.tracking import WorkersUnavailable
from orderflow.schemas import catalog

__all__ = ["routes"]

PLACE_ORDER = catalog.ORDER_COMMANDS.default_schema


def new_order_id() -> str:
    return f"ord_{uuid.uuid4().hex}"


async def read_json(request: web.Request) -> object:
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send the body as application/json")
    try:
        return json.loads(await request.read())
    except (ValueError, UnicodeDecodeError) as exc:
        raise web.HTTPBadRequest(text=f"body is not valid JSON: {exc}") from exc


async def place_order(request: web.Request) -> web.Response:
    ctx: GatewayContext = request.app["ctx"]
    body = await read_json(request)
    try:
        order = PlaceOrderRequest.model_validate(body)
    except ValidationError as exc:
        return json_error(400, "invalid_request", "the order has invalid fields",
                          fields=field_errors(exc))
    order_id = new_order_id()
    command = to_place_order(order, order_id, int(time.time() * 1000),
                             request.headers.get("Idempotency-Key"))
    try:
        await ctx.producer.send(catalog.ORDER_COMMANDS.name, order_id.encode(),
                                ctx.codec.encode(PLACE_ORDER, command))
    except (KafkaException, BufferError) as exc:
        return json_error(503, "unavailable", f"could not write the order to Kafka: {exc}")
    location = f"/api/v1/orders/{order_id}"
    return web.json_response({"orderId": order_id, "status": "pending"}, status=202,
                             headers={"Location": location})


async def get_order(request: web.Request) -> web.Response:
    ctx: GatewayContext = request.app["ctx"]
    order_id = request.match_info["order_id"]
    try:
        answer = await ctx.tracking.get(f"/orders/{order_id}")
    except WorkersUnavailable as exc:
        return json_error(503, "unavailable", f"no worker answered: {exc}")
    return web.Response(body=answer.body, status=answer.status, content_type=answer.content_type)


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/v1/orders", place_order),
        web.get("/api/v1/orders/{order_id}", get_order),
    ]
