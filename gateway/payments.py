"""Payment routes of the gateway (seed 003's Payments API, over the payments table).

- GET /api/v1/orders/{orderId}/payment: the order's payment (status, amount,
  captured and refunded amounts, the method as type and last 4, its refunds
  and history).
- GET /api/v1/payments/{paymentId}: the same payment by orderflow's payment
  id (pay_<orderId>; the provider's id is its transactionId).
- POST /api/v1/payments/{paymentId}/refund {amount?, reason}: an operator's
  refund, in full (no amount: all that is left) or in part. Checked against
  the row first (409 naming why it cannot be made), then IssueRefund goes to
  payments.refunds for the payment agent, which decides again and refunds
  once per refundRequestId; answers 202 with the refundRequestId and the
  payment's Location. With an Idempotency-Key header the refundRequestId is
  derived from the payment and the key, so a retried POST refunds once (and,
  once decided, answers 200 with the refund as it was decided).

Produces: IssueRefund on payments.refunds. No business rules of its own: the
refusal reasons are tables/payments.py's.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from orderflow.gateway.auth import caller
from orderflow.gateway.context import CONTEXT
from orderflow.gateway.errors import json_error
from orderflow.gateway.handling import body_as, by_own_id, id_for, idempotency_key, not_found, path_id, produce, sees
from orderflow.gateway.presenters import present_payment, present_refund
from orderflow.gateway.requests import RefundRequest, to_issue_refund
from orderflow.schemas import catalog
from orderflow.tables import payments
from orderflow.tables.clock import now_ms

__all__ = ["refund_request_id_for", "routes"]


def refund_request_id_for(payment_id: str, idempotency_key: str | None) -> str:
    return id_for("rfd_", payment_id, idempotency_key, 24)


async def get_payment(request: web.Request) -> web.Response:
    """The order's payment: status, amounts, method (type and last 4 only), refunds and history."""
    ctx = request.app[CONTEXT]
    order_id = path_id(request, "order_id")
    status, body = await ctx.tracking.get_json(f"/payments/{quote(order_id, safe='')}")
    if status != 200:
        return web.json_response(body, status=status)
    if not sees(request, body["customerId"]):
        return not_found("payment of order", order_id)
    return web.json_response(present_payment(body))


async def get_payment_by_id(request: web.Request) -> web.Response:
    """A payment by orderflow's payment id (pay_<orderId>): the order's payment, if it is that one."""
    found = await by_own_id(request, "payment", payments.order_id_of, "payments", "paymentId")
    return found if isinstance(found, web.Response) else web.json_response(present_payment(found))


async def refund_payment(request: web.Request) -> web.Response:
    """An operator's refund of a captured payment, in full or in part."""
    ctx = request.app[CONTEXT]
    req = await body_as(request, RefundRequest, "the refund")
    key = idempotency_key(request)
    found = await by_own_id(request, "payment", payments.order_id_of, "payments", "paymentId")
    if isinstance(found, web.Response):
        return found
    payment_id = found["paymentId"]
    command = to_issue_refund(req, found["orderId"], refund_request_id_for(payment_id, key),
                              caller(request).subject, now_ms())
    location = {"Location": f"/api/v1/payments/{payment_id}"}
    earlier = payments.earlier_refund(found, command["refundRequestId"])  # type: ignore[arg-type]
    if earlier is not None:
        return web.json_response({"paymentId": payment_id, **present_refund(earlier)}, headers=location)
    why = payments.refund_refusal(found, command)  # type: ignore[arg-type]
    if why is not None:
        return json_error(409, "refund_refused", f"payment {payment_id} cannot be refunded so: {why}")
    failed = await produce(ctx, catalog.PAYMENT_REFUNDS, found["orderId"], "IssueRefund", command)
    if failed is not None:
        return failed
    return web.json_response({"paymentId": payment_id, "refundRequestId": command["refundRequestId"],
                              "status": "requested"}, status=202, headers=location)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/orders/{order_id}/payment", get_payment),
        web.get("/api/v1/payments/{payment_id}", get_payment_by_id),
        web.post("/api/v1/payments/{payment_id}/refund", refund_payment),
    ]
