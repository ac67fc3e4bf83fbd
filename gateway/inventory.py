"""Inventory and price routes of the gateway, for operators without a Kafka
client (the writes need the operator scope, tables/access.py):

- GET  /api/v1/inventory/{productId}: on hand, reserved, available, price.
- GET  /api/v1/products/{productId}: price and availability together.
- GET  /api/v1/products?page=P&limit=L: every product's price and
  availability, by productId (each worker answers for its own partitions).
- GET  /api/v1/inventory?page=P&limit=L: every product's stock level, its
  low-stock threshold and band (ok, low, out) and price.
- POST /api/v1/inventory/{productId}/adjustments {type, quantity, reason?,
  adjustmentId?}: produce Restocked, Adjusted, StockSet or
  LowStockThresholdSet to
  inventory.adjustments, the same messages warehouses send.
- POST /api/v1/products/{productId}/price {price, currency?, effectiveAt?}:
  produce PriceUpdated to prices.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web

from orderflow.agents import web_params
from orderflow.gateway.context import CONTEXT
from orderflow.gateway.errors import json_error
from orderflow.gateway.handling import body_as, path_id, produce
from orderflow.gateway.presenters import present_inventory
from orderflow.gateway.requests import (
    InventoryAdjustmentRequest,
    PriceRequest,
    to_adjustment,
    to_cents,
)
from orderflow.schemas import catalog
from orderflow.tables import prices
from orderflow.tables.clock import now_ms
from orderflow.tables.money import amount

__all__ = ["routes"]


def _product_id(request: web.Request) -> str:
    return path_id(request, "product_id")


async def get_inventory(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    status, body = await ctx.tracking.get_json(f"/inventory/{quote(_product_id(request), safe='')}")
    return web.json_response(present_inventory(body) if status == 200 else body, status=status)


async def get_product(request: web.Request) -> web.Response:
    """Price and availability together, from the product's stock row."""
    ctx = request.app[CONTEXT]
    status, body = await ctx.tracking.get_json(f"/inventory/{quote(_product_id(request), safe='')}")
    if status != 200:
        return web.json_response(body, status=status)
    return web.json_response(present_product(body, ctx.settings.default_price_cents))


def present_product(body: dict[str, Any], default_price_cents: int) -> dict[str, Any]:
    price_cents = prices.unit_price_cents(body["priceCents"], default_price_cents)
    return {"productId": body["productId"], "price": amount(price_cents), "currency": body["currency"],
            "available": body["available"], "inStock": body["available"] > 0}


@dataclass(frozen=True)
class Listed:
    """A page of every worker's products, how many there are in all, and the workers that did not answer
    (their products are missing from the list until they do)."""

    page: list[dict[str, Any]]
    wanted: web_params.Page
    total: int
    unanswered: list[str]

    def response(self, key: str, shown: list[dict[str, Any]]) -> web.Response:
        return web.json_response({key: shown, "pagination": {"page": self.wanted.page, "limit": self.wanted.limit,
                                                             "total": self.total}, "unanswered": self.unanswered})


async def _every_product(request: web.Request) -> Listed | web.Response:
    """Every worker's products merged by productId, or the 400 for a bad page."""
    try:
        wanted = web_params.page(request.query)
    except web_params.BadQuery as exc:
        return json_error(400, "invalid_request", str(exc))
    bodies, unanswered = await request.app[CONTEXT].tracking.get_each_json("/inventory")
    # one owner each, but during a rebalance a product may briefly be on two workers
    merged = {p["productId"]: p for body in bodies for p in body["products"]}
    found = [merged[k] for k in sorted(merged)]
    start = (wanted.page - 1) * wanted.limit
    return Listed(found[start:start + wanted.limit], wanted, len(found), unanswered)


async def list_products(request: web.Request) -> web.Response:
    listed = await _every_product(request)
    if isinstance(listed, web.Response):
        return listed
    default = request.app[CONTEXT].settings.default_price_cents
    return listed.response("products", [present_product(p, default) for p in listed.page])


async def list_inventory(request: web.Request) -> web.Response:
    listed = await _every_product(request)
    if isinstance(listed, web.Response):
        return listed
    return listed.response("inventory", [{**present_inventory(p), "lowStockThreshold": p["lowStockThreshold"],
                                          "level": p["level"]} for p in listed.page])


async def adjust_inventory(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    product_id = _product_id(request)
    req = await body_as(request, InventoryAdjustmentRequest, "the adjustment")
    adjustment_id = req.adjustmentId or f"adj_{uuid.uuid4().hex}"
    kind, record = to_adjustment(req, product_id, adjustment_id, now_ms())
    failed = await produce(ctx, catalog.INVENTORY_ADJUSTMENTS, product_id, kind, record)
    return failed or web.json_response({"adjustmentId": adjustment_id, "productId": product_id,
                                        "type": req.type}, status=202)


async def set_price(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    product_id = _product_id(request)
    req = await body_as(request, PriceRequest, "the price")
    record = {"productId": product_id, "priceCents": to_cents(req.price), "price": amount(to_cents(req.price)),
              "currency": req.currency,
              "effectiveAt": req.effectiveAt if req.effectiveAt is not None else now_ms()}
    failed = await produce(ctx, catalog.PRICES, product_id, "PriceUpdated", record)
    return failed or web.json_response({"productId": product_id, "price": float(req.price),
                                        "effectiveAt": record["effectiveAt"]}, status=202)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/inventory/{product_id}", get_inventory),
        web.post("/api/v1/inventory/{product_id}/adjustments", adjust_inventory),
        web.get("/api/v1/products/{product_id}", get_product),
        web.get("/api/v1/products", list_products),
        web.get("/api/v1/inventory", list_inventory),
        web.post("/api/v1/products/{product_id}/price", set_price),
    ]
