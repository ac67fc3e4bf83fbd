"""Order routes of the gateway.

- POST /api/v1/orders: validate, produce PlaceOrder (keyed by orderId) to
  orders.commands, answer 202. With an Idempotency-Key header the orderId is
  derived from the customer and the key, so a retried POST answers the same
  orderId and its duplicate command changes nothing. With ``Prefer: wait=N``
  (at most 10 s) it waits up to N s for the order's first decision and, once
  the order has left pending (pending_payment, or rejected), answers 201 with
  the order and its estimatedDelivery; else 202 as without.
- GET /api/v1/orders/{orderId}[?waitWhileStatus=S1,S2&timeout=T]: the order
  from the orders table, through a worker (long-poll when asked).
- PUT /api/v1/orders/{orderId} {items}: change the items of an unpaid order
  (seed 002): checked against the row (409 naming why it cannot change),
  ChangeOrder to orders.commands, then a short wait for the saga's decision:
  200 with the order once its change is applied (the new total is then asked
  of the payment provider), 409 with the reason if it was refused (a line
  that cannot be reserved: the order keeps its lines), 202 while undecided.
  With an Idempotency-Key the changeId is derived from the order and the key.
- POST /api/v1/orders/{orderId}/cancel: produce CancelOrder unless the order
  has shipped (409), then wait briefly for the outcome.
- GET /api/v1/orders/{orderId}/events: Server-Sent Events of status changes.
- POST /api/v1/orders/{orderId}/shipments {status: shipped|delivered}: an
  operator's correction, checked by the delivery service's transitions.
- GET /api/v1/customers/{customerId}/orders?page=&limit=: the customer's orders.

A customer's token (tables/access.py) places orders only for itself (403
otherwise) and sees only its own orders and list: another's is a 404, the
answer an unknown order gets.

No business rules here: the agents decide, the gateway checks shapes.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from orderflow.gateway.context import CONTEXT, GatewayContext
from orderflow.gateway.errors import json_error
from orderflow.gateway.handling import (
    body_as,
    by_own_id,
    id_for,
    idempotency_key,
    not_found,
    path_id,
    produce,
    seen_customer_id,
    sees,
)
from orderflow.gateway.presenters import (
    estimated_delivery,
    iso,
    present_order,
    present_shipment,
    present_summary,
)
from orderflow.gateway.requests import (
    CancelOrderRequest,
    ChangeOrderRequest,
    PlaceOrderRequest,
    ShipmentRequest,
    preferred_wait,
    to_change_order,
    to_place_order,
    to_shipment_correction,
)
from orderflow.gateway.tracking import WorkersUnavailable
from orderflow.schemas import catalog
from orderflow.tables import order_changes, order_status, shipments
from orderflow.tables.clock import now_ms

__all__ = ["routes"]

CANCEL_WAIT_S = 5.0
CHANGE_WAIT_S = 5.0
SSE_POLL_S = 15.0


def order_id_for(customer_id: str, idempotency_key: str | None) -> str:
    return id_for("ord_", customer_id, idempotency_key, 32)


async def fetch_order(ctx: GatewayContext, order_id: str, wait_while: str | None = None,
                      timeout: float = 0.0) -> tuple[int, Any]:
    query = {"waitWhileStatus": wait_while, "timeout": timeout} if wait_while else {}
    suffix = f"?{urlencode(query)}" if query else ""
    return await ctx.tracking.get_json(f"/orders/{quote(order_id, safe='')}{suffix}", wait_s=timeout)


async def place_order(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    order = await body_as(request, PlaceOrderRequest, "the order")
    if not sees(request, order.customerId):
        return json_error(403, "forbidden", "a customer may place orders only for itself")
    key = idempotency_key(request)
    order_id = order_id_for(order.customerId, key)
    command = to_place_order(order, order_id, now_ms(), key)
    failed = await produce(ctx, catalog.ORDER_COMMANDS, order_id, "PlaceOrder", command)
    if failed is not None:
        return failed
    location = {"Location": f"/api/v1/orders/{order_id}"}
    wait_s = preferred_wait(request.headers.get("Prefer"))
    if wait_s > 0:
        # the client would rather wait a little for the order's first decision than poll for it
        location["Preference-Applied"] = f"wait={wait_s:g}"
        try:
            status, row = await fetch_order(ctx, order_id, order_status.PENDING, wait_s)
        except WorkersUnavailable:
            status, row = 503, None
        if status == 200 and row["status"] != order_status.PENDING:
            placed = present_order(row)
            placed["estimatedDelivery"] = estimated_delivery(row, ctx.settings.estimated_delivery_days)
            return web.json_response(placed, status=201, headers=location)
    return web.json_response({"orderId": order_id, "status": "pending"}, status=202, headers=location)


async def get_order(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    order_id = path_id(request, "order_id")
    wait_while = request.query.get("waitWhileStatus")
    try:
        timeout = min(max(float(request.query.get("timeout", 0)), 0.0), ctx.settings.long_poll_max_s)
    except ValueError:
        return json_error(400, "invalid_request", "timeout must be a number of seconds")
    status, body = await fetch_order(ctx, order_id, wait_while, timeout if wait_while else 0.0)
    if status != 200:
        return web.json_response(body, status=status)
    if not sees(request, body["customerId"]):
        return not_found("order", order_id)
    return web.json_response(present_order(body))


async def change_order(request: web.Request) -> web.Response:
    """Change an unpaid order's items; the saga decides (tables/order_changes.py)."""
    ctx = request.app[CONTEXT]
    order_id = path_id(request, "order_id")
    req = await body_as(request, ChangeOrderRequest, "the change")
    key = idempotency_key(request)
    status, row = await fetch_order(ctx, order_id)
    if status != 200:
        return web.json_response(row, status=status)
    if not sees(request, row["customerId"]):
        return not_found("order", order_id)
    command = to_change_order(req, order_id, id_for("chg_", order_id, key, 24), now_ms())
    earlier = row.get("change")
    if earlier is None or earlier["changeId"] != command["changeId"]:
        why = order_changes.change_refusal(row, command)  # type: ignore[arg-type]
        if why is not None:
            return json_error(409, "conflict", f"order {order_id} cannot be changed: {why}")
        failed = await produce(ctx, catalog.ORDER_COMMANDS, order_id, "ChangeOrder", command)
        if failed is not None:
            return failed
        row = await _decided_change(ctx, order_id, command["changeId"], row)
    return _change_answer(row, order_id, command["changeId"])


async def _decided_change(ctx: GatewayContext, order_id: str, change_id: str, row: Any) -> Any:
    """The order once the saga decided this change, or as last seen after CHANGE_WAIT_S."""
    deadline = time.monotonic() + CHANGE_WAIT_S
    while (left := deadline - time.monotonic()) > 0:
        try:
            status, newer = await ctx.tracking.get_json(
                f"/orders/{quote(order_id, safe='')}?afterRevision={row['revision']}&timeout={left:.1f}",
                wait_s=left)
        except WorkersUnavailable:
            return row
        if status != 200:
            return row
        row = newer
        change = row.get("change")
        if change is not None and change["changeId"] == change_id and change["status"] != order_changes.PENDING:
            break
    return row


def _change_answer(row: Any, order_id: str, change_id: str) -> web.Response:
    change = row.get("change")
    location = {"Location": f"/api/v1/orders/{order_id}"}
    if change is None or change["changeId"] != change_id or change["status"] == order_changes.PENDING:
        return web.json_response({"orderId": order_id, "changeId": change_id, "status": "changing"},
                                 status=202, headers=location)
    if change["status"] == order_changes.REFUSED:
        return json_error(409, "change_refused", f"the change of order {order_id} was refused: {change['reason']}",
                          changeId=change_id)
    return web.json_response(present_order(row), headers=location)


async def cancel_order(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    order_id = path_id(request, "order_id")
    cancel = await body_as(request, CancelOrderRequest, "the cancellation", required=False)
    status, row = await fetch_order(ctx, order_id)
    if status != 200:
        return web.json_response(row, status=status)
    if not sees(request, row["customerId"]):
        return not_found("order", order_id)
    if row["status"] == order_status.CANCELLED:
        return web.json_response({"orderId": order_id, "status": "cancelled"})
    if not order_status.can_cancel(row["status"]):
        return json_error(409, "conflict", f"order {order_id} is {row['status']} and cannot be cancelled")
    failed = await produce(ctx, catalog.ORDER_COMMANDS, order_id, "CancelOrder",
                           {"orderId": order_id, "reason": cancel.reason,
                            "requestedAt": now_ms()})
    if failed is not None:
        return failed
    status, row = await fetch_order(ctx, order_id, row["status"], CANCEL_WAIT_S)
    if status != 200:  # written, but not readable yet (e.g. a rebalance)
        return web.json_response({"orderId": order_id, "status": "cancelling"}, status=202)
    if row["status"] == order_status.CANCELLED:
        return web.json_response({"orderId": order_id, "status": "cancelled"})
    if not order_status.can_cancel(row["status"]):
        return json_error(409, "conflict", f"order {order_id} became {row['status']} first")
    return web.json_response({"orderId": order_id, "status": "cancelling"}, status=202)


async def record_shipment(request: web.Request) -> web.Response:
    """Admin: correct a shipment by hand (shipped, delivered); the delivery service checks the move
    against the shipment's transitions and publishes what it applies."""
    ctx = request.app[CONTEXT]
    order_id = path_id(request, "order_id")
    req = await body_as(request, ShipmentRequest, "the shipment")
    failed = await produce(ctx, catalog.SHIPMENT_CORRECTIONS, order_id, "CorrectShipment",
                           to_shipment_correction(req, order_id, now_ms()))
    return failed or web.json_response({"orderId": order_id, "correction": req.status}, status=202)


async def get_shipment(request: web.Request) -> web.Response:
    """A shipment and its history, by orderflow's shipment id (shp_<orderId>)."""
    found = await by_own_id(request, "shipment", shipments.order_id_of, "shipments", "shipmentId")
    return found if isinstance(found, web.Response) else web.json_response(present_shipment(found))


async def order_events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: every status change of the order, until it ends."""
    ctx = request.app[CONTEXT]
    order_id = path_id(request, "order_id")
    status, row = await ctx.tracking.get_json(
        f"/orders/{quote(order_id, safe='')}?afterRevision=0&timeout=5", wait_s=5)
    if status != 200:
        return web.json_response(row, status=status)
    if not sees(request, row["customerId"]):
        return not_found("order", order_id)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    sent = 0
    while True:
        for index, change in enumerate(row["history"][sent:], start=sent):
            data = json.dumps({"orderId": order_id, "status": change["status"], "reason": change["reason"],
                               "at": iso(change["at"])})
            await response.write(f"id: evt_{order_id}_{index}\nevent: status\ndata: {data}\n\n".encode())
        if row["status"] in order_status.TERMINAL:
            break
        if len(row["history"]) == sent:
            await response.write(b": keep-alive\n\n")
        sent = len(row["history"])
        try:
            status, newer = await ctx.tracking.get_json(
                f"/orders/{quote(order_id, safe='')}?afterRevision={row['revision']}&timeout={SSE_POLL_S}",
                wait_s=SSE_POLL_S)
        except WorkersUnavailable:
            newer, status = row, 503
        if status == 200:
            row = newer
    await response.write_eof()
    return response


async def customer_orders(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    customer_id = seen_customer_id(request)
    query = urlencode({k: v for k, v in request.query.items() if k in ("page", "limit")})
    status, body = await ctx.tracking.get_json(f"/customers/{quote(customer_id, safe='')}/orders?{query}")
    if status != 200:
        return web.json_response(body, status=status)
    return web.json_response({"orders": [present_summary(o) for o in body["orders"]],
                              "pagination": body["pagination"]})


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/v1/orders", place_order),
        web.get("/api/v1/orders/{order_id}", get_order),
        web.put("/api/v1/orders/{order_id}", change_order),
        web.post("/api/v1/orders/{order_id}/cancel", cancel_order),
        web.get("/api/v1/orders/{order_id}/events", order_events),
        web.post("/api/v1/orders/{order_id}/shipments", record_shipment),
        web.get("/api/v1/shipments/{shipment_id}", get_shipment),
        web.get("/api/v1/customers/{customer_id}/orders", customer_orders),
    ]
