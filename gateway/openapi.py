"""The gateway's OpenAPI 3.1 description, served at GET /openapi.json.

Owns: the list of the gateway's operations (method, path, parameters, body,
answers). Request bodies are generated from the pydantic models of
``requests.py``, path ids carry the pattern of ``requests.Ident``, and every
error answer has the JSON error body of ``errors.py``, so the description
follows the validation it documents. Consumes and produces nothing on Kafka;
``tests/unit/test_openapi.py`` keeps it in step with the app's routes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from orderflow.gateway import requests
from orderflow.gateway.context import CONTEXT
from orderflow.tables import access

__all__ = ["OPERATIONS", "Operation", "document", "serve"]

ERROR = "#/components/schemas/Error"
SCHEME = "bearerAuth"
# Who may call, per rule (tables/access.py), as the description says it.
WHO = {
    access.Rule.ANY: "any valid token (customer, service or operator)",
    access.Rule.OWNER: "a customer for itself only (another customer's is a 404), service or operator for any",
    access.Rule.SERVICE: "service or operator",
    access.Rule.OPERATOR: "operator",
}
_AUTH = {401: "no token, or one that does not verify (expired, wrong key or algorithm); `WWW-Authenticate` says why",
         403: "a valid token without the scope this operation needs"}
JSON = "application/json"
# A path id: an Ident, and not a dot segment (clients would remove it from the URL).
PATH_ID = {**TypeAdapter(requests.Ident).json_schema(), "not": {"enum": list(requests.DOT_SEGMENTS)}}
# What the models' validators check but their generated schemas cannot say.
SCHEMA_EXTRAS: dict[str, dict[str, Any]] = {"CustomerUpdateRequest": {"minProperties": 1}}


@dataclass(frozen=True)
class Operation:
    """One route: ``answers`` maps each documented status to its meaning; 2xx
    answers (and those in ``plain``) are ``media``, JSON unless said; every
    other one is an Error body."""

    method: str
    path: str  # OpenAPI template; path parameters are ids
    operation_id: str
    summary: str
    answers: dict[int, str]
    body: type[BaseModel] | None = None
    body_required: bool = True
    query: tuple[dict[str, Any], ...] = ()
    headers: tuple[dict[str, Any], ...] = ()
    media: str = JSON
    plain: frozenset[int] = frozenset()
    tags: tuple[str, ...] = ()


def _param(name: str, where: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": where, "required": False, "schema": schema, "description": description}


_JSON_BODY = {400: "invalid JSON or fields (each bad field named in `fields`)",
              415: "the body is not application/json"}
_UNAVAILABLE = {503: "Kafka or the workers did not answer; retry"}

_PAGE = (_param("page", "query", {"type": "integer", "minimum": 1, "maximum": 1_000_000}, "from 1"),
         _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100}, "per page"))

OPERATIONS: tuple[Operation, ...] = (
    Operation("get", "/healthz", "healthz", "the process is alive", {200: "alive"}, tags=("system",)),
    Operation("get", "/readyz", "readyz", "the broker and a worker answer",
              {200: "{ready: true, status}", 503: "{ready: false, status}: not ready"},
              plain=frozenset({503}), tags=("system",)),
    Operation("get", "/metrics", "metrics", "Prometheus metrics", {200: "text exposition format"},
              media="text/plain", tags=("system",)),
    Operation("get", "/openapi.json", "openapi", "this description", {200: "the OpenAPI document"},
              tags=("system",)),
    Operation("get", "/", "home", "the web pages' index", {200: "an HTML page linking the shop and the console"},
              media="text/html", tags=("pages",)),
    Operation("get", "/shop/", "shopPage", "the customer page: sign in, browse, order, track",
              {200: "the HTML page"}, media="text/html", tags=("pages",)),
    Operation("get", "/console/", "consolePage", "the operator page: stock, prices, orders, dead letters, health",
              {200: "the HTML page"}, media="text/html", tags=("pages",)),
    Operation("get", "/assets/{name}", "pageAsset", "a script or style sheet of the pages",
              {200: "the file", 400: "not a file name", 404: "no such file"}, media="text/plain",
              tags=("pages",)),
    Operation("get", "/api/v1/me", "whoAmI", "who the token says is calling: subject, scopes, customerId",
              {200: "{subject, scopes, customerId}"}, tags=("pages",)),
    Operation("get", "/api/v1/products", "listProducts", "every product's price and availability, by productId",
              {200: "a page of products and `pagination`", 400: "bad page or limit", **_UNAVAILABLE},
              tags=("inventory",), query=_PAGE),
    Operation("get", "/api/v1/inventory", "listInventory",
              "every product's stock: onHand, reserved, available, lowStockThreshold, level (ok, low, out), price",
              {200: "a page of stock levels and `pagination`", 400: "bad page or limit", **_UNAVAILABLE},
              tags=("inventory",), query=_PAGE),
    Operation("get", "/api/v1/admin/recent-orders", "recentOrders",
              "operators: the last orders to reach each status, newest first",
              {200: "{orders: {status: [order]}, unanswered: [workers that did not answer]}",
               400: "bad limit", **_UNAVAILABLE}, tags=("admin",),
              query=(_param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 20}, "per status"),)),
    Operation("get", "/api/v1/admin/status", "clusterStatus",
              "operators: `orderflow status`'s report (brokers, workers' readiness, lag per topic, dead letters, "
              "open orders, payment provider) and `healthy`",
              {200: "the report", 503: "this gateway has no operator credentials for Kafka"}, tags=("admin",)),
    Operation("get", "/api/v1/admin/dead-letters", "deadLetters", "operators: the newest dead letters and why",
              {200: "{deadLetters: [...], total}", 400: "bad limit",
               503: "no operator credentials here, or Kafka did not answer"}, tags=("admin",),
              query=(_param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 500}, "newest N"),)),
    Operation("post", "/api/v1/admin/dead-letters/{position}/replay", "replayDeadLetter",
              "operators: re-produce one dead letter (PARTITION:OFFSET) to the topic it came from",
              {200: "{replayed: [{deadLetter, topic, partition, offset}]}", 400: "not PARTITION:OFFSET",
               404: "no dead letter there", 409: "it names no source topic orderflow knows",
               503: "no operator credentials here, or Kafka did not answer"}, tags=("admin",)),
    Operation("post", "/api/v1/orders", "placeOrder", "write PlaceOrder to Kafka",
              {201: "with `Prefer: wait=N`, decided within N s: the order (pending_payment, or rejected) "
                    "with estimatedDelivery, and a Location",
               202: "accepted: {orderId, status: pending} and a Location", **_JSON_BODY, **_UNAVAILABLE},
              body=requests.PlaceOrderRequest, tags=("orders",),
              headers=(_param("Idempotency-Key", "header", {"type": "string", "minLength": 1, "maxLength": 200},
                              "a retry with the same key answers the same orderId and creates nothing"),
                       _param("Prefer", "header", {"type": "string"},
                              "`wait=N` (seconds, at most 10): wait that long for the order's first decision "
                              "(RFC 7240)"))),
    Operation("get", "/api/v1/orders/{orderId}", "getOrder", "the order (long-poll when asked)",
              {200: "the order", 400: "bad query parameter", 404: "no such order", **_UNAVAILABLE},
              tags=("orders",), query=(
                  _param("waitWhileStatus", "query", {"type": "string"},
                         "comma-separated statuses: wait while the order is absent or in one of them"),
                  _param("timeout", "query", {"type": "number", "minimum": 0, "maximum": 30},
                         "seconds to wait at most; a value outside the range is clamped to it"))),
    Operation("put", "/api/v1/orders/{orderId}", "changeOrder",
              "change the items of an order not yet paid (seed 002): what is added is reserved, what is removed "
              "given back once the new total is paid; refused (the order keeps its lines) if an addition cannot "
              "be reserved",
              {200: "changed: the order, its new total asked of the payment provider", 202: "being decided",
               **_JSON_BODY, 404: "no such order",
               409: "it cannot change (paid, still being checked, another change under way) or the change was "
                    "refused: the error says why", **_UNAVAILABLE},
              body=requests.ChangeOrderRequest, tags=("orders",)),
    Operation("post", "/api/v1/orders/{orderId}/cancel", "cancelOrder", "cancel before shipment",
              {200: "cancelled", 202: "cancelling", **_JSON_BODY, 404: "no such order",
               409: "shipped or ended: cannot be cancelled", **_UNAVAILABLE},
              body=requests.CancelOrderRequest, body_required=False, tags=("orders",)),
    Operation("get", "/api/v1/orders/{orderId}/events", "orderEvents", "status changes as Server-Sent Events",
              {200: "an event stream until the order ends", 404: "no such order", **_UNAVAILABLE},
              media="text/event-stream", tags=("orders",)),
    Operation("get", "/api/v1/orders/{orderId}/payment", "getOrderPayment",
              "the order's payment: status, amount, captured and refunded amounts, method (type, last4), history",
              {200: "the payment", 404: "no such order, or no payment yet", **_UNAVAILABLE}, tags=("payments",)),
    Operation("get", "/api/v1/payments/{paymentId}", "getPayment",
              "a payment by orderflow's payment id (pay_<orderId>), as getOrderPayment shows it; "
              "transactionId is the provider's id",
              {200: "the payment", 404: "no such payment", **_UNAVAILABLE}, tags=("payments",)),
    Operation("post", "/api/v1/payments/{paymentId}/refund", "refundPayment",
              "operators: refund a captured payment in full (no amount: all that is left) or in part, with a "
              "reason; refunded once per Idempotency-Key; the payment's refunds[] shows it refunded or refused",
              {200: "this refund was decided before (the Idempotency-Key's): as decided",
               202: "the refund is on its way to the payment agent", 404: "no such payment",
               409: "it cannot be refunded so (not captured, more than is left): the error says why",
               **_JSON_BODY, **_UNAVAILABLE},
              body=requests.RefundRequest, tags=("payments",)),
    Operation("post", "/api/v1/orders/{orderId}/shipments", "recordShipment",
              "admin: correct a shipment by hand (shipped, then delivered); the delivery service checks the move",
              {202: "the correction is on its way", **_JSON_BODY, **_UNAVAILABLE},
              body=requests.ShipmentRequest, tags=("admin",)),
    Operation("get", "/api/v1/shipments/{shipmentId}", "getShipment",
              "a shipment (carrier, tracking number, estimated delivery) and its history",
              {200: "the shipment", 404: "no such shipment", **_UNAVAILABLE}, tags=("shipments",)),
    Operation("get", "/api/v1/customers/{customerId}/orders", "customerOrders", "the customer's orders, newest first",
              {200: "a page of orders and `pagination`", 400: "bad page or limit", **_UNAVAILABLE},
              tags=("customers",), query=_PAGE),
    Operation("post", "/api/v1/customers", "createCustomer", "register a customer",
              {201: "registered: {customerId}", 202: "still registering", **_JSON_BODY,
               409: "the email belongs to another customer", **_UNAVAILABLE},
              body=requests.CustomerRequest, tags=("customers",)),
    Operation("get", "/api/v1/customers/{customerId}", "getCustomer", "the customer",
              {200: "the customer", 404: "no such customer", **_UNAVAILABLE}, tags=("customers",)),
    Operation("put", "/api/v1/customers/{customerId}", "updateCustomer", "change a customer's fields",
              {200: "the customer as changed", **_JSON_BODY, 404: "no such customer",
               409: "the new email is taken", **_UNAVAILABLE},
              body=requests.CustomerUpdateRequest, tags=("customers",)),
    Operation("get", "/api/v1/inventory/{productId}", "getInventory", "onHand, reserved, available, price",
              {200: "the stock level", 400: "bad product id", 404: "no such product", **_UNAVAILABLE},
              tags=("inventory",)),
    Operation("post", "/api/v1/inventory/{productId}/adjustments", "adjustInventory",
              "admin: restock, adjust, set or threshold", {202: "published", **_JSON_BODY, **_UNAVAILABLE},
              body=requests.InventoryAdjustmentRequest, tags=("admin",)),
    Operation("get", "/api/v1/products/{productId}", "getProduct", "price and availability",
              {200: "the product", 400: "bad product id", 404: "no such product", **_UNAVAILABLE},
              tags=("inventory",)),
    Operation("post", "/api/v1/products/{productId}/price", "setPrice", "admin: publish PriceUpdated",
              {202: "published", **_JSON_BODY, **_UNAVAILABLE}, body=requests.PriceRequest, tags=("admin",)),
)


def _answers(op: Operation) -> dict[int, str]:
    """The operation's answers, with those of authentication and of a customer's own-only reads."""
    rule = access.rule_for(op.operation_id)
    if rule is None or rule is access.Rule.PUBLIC:
        return op.answers
    answers = {**op.answers, **_AUTH}
    if rule is access.Rule.OWNER and op.operation_id == "placeOrder":
        answers[403] = "a valid token without the scope, or a customer ordering for another customer"
    elif rule is access.Rule.OWNER:
        answers.setdefault(404, "not found, or not the calling customer's")
        answers[404] = f"{answers[404]} (also what a customer gets for another customer's)"
    return dict(sorted(answers.items()))


def _operation(op: Operation, long_poll_max_s: float) -> dict[str, Any]:
    params = [{"name": name, "in": "path", "required": True, "schema": PATH_ID}
              for name in re.findall(r"{(\w+)}", op.path)]
    for extra in (*op.query, *op.headers):
        if extra["name"] == "timeout":
            extra = {**extra, "schema": {**extra["schema"], "maximum": long_poll_max_s}}
        params.append(extra)
    responses: dict[str, Any] = {}
    for status, meaning in _answers(op).items():
        if 200 <= status < 300 or status in op.plain:
            schema = {"type": "string"} if op.media != JSON else {"type": "object"}
            responses[str(status)] = {"description": meaning, "content": {op.media: {"schema": schema}}}
        else:
            responses[str(status)] = {"description": meaning, "content": {JSON: {"schema": {"$ref": ERROR}}}}
    responses["default"] = {"description": "any other error (405, 413, 500, ...)",
                            "content": {JSON: {"schema": {"$ref": ERROR}}}}
    out: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary, "tags": list(op.tags),
                           "responses": responses}
    rule = access.rule_for(op.operation_id)
    if rule is None or rule is access.Rule.PUBLIC:
        out["security"] = []  # open: no token needed
    else:
        out["security"] = [{SCHEME: [s.value for s in sorted(access.ALLOWED[rule])]}]
        out["description"] = f"Who may call: {WHO[rule]}."
    if params:
        out["parameters"] = params
    if op.body is not None:
        out["requestBody"] = {"required": op.body_required, "content": {
            JSON: {"schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}}}}
    return out


def _schemas() -> dict[str, Any]:
    models = sorted({op.body for op in OPERATIONS if op.body is not None}, key=lambda m: m.__name__)
    _, defs = models_json_schema([(m, "validation") for m in models],
                                 ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = defs["$defs"]
    for name, extra in SCHEMA_EXTRAS.items():
        schemas[name] = {**schemas[name], **extra}
    schemas["Error"] = {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string", "description": "a short code, e.g. invalid_request, not_found"},
            "message": {"type": "string", "description": "what went wrong, for people"},
            "fields": {"type": "array", "description": "each bad field of a 400 on a body", "items": {
                "type": "object", "required": ["field", "problem"],
                "properties": {"field": {"type": "string"}, "problem": {"type": "string"}}}},
        },
    }
    return schemas


@cache
def document(long_poll_max_s: float = 30.0) -> dict[str, Any]:
    """The whole OpenAPI document (built once per long-poll cap)."""
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op, long_poll_max_s)
    return {
        "openapi": "3.1.0",
        "info": {"title": "orderflow gateway", "version": "1",
                 "description": "Orders, customers and inventory over HTTP; every write becomes a Kafka "
                                "record. Every error is JSON: {error, message, fields?}. Every /api/v1 "
                                "route needs `Authorization: Bearer <JWT>`."},
        "paths": paths,
        "security": [{SCHEME: []}],
        "components": {"schemas": _schemas(), "securitySchemes": {SCHEME: {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "A JWT with the gateway's issuer and audience, an expiry, a subject and a `scope` claim: "
                           "`customer` (the subject is the customerId), `service` or `operator`."}}},
    }


async def serve(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    return web.json_response(document(ctx.settings.long_poll_max_s))
