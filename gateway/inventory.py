"""Inventory and price routes of the gateway, for operators without a Kafka
client (the writes need the operator scope, tables/access.py):

- GET  /api/v1/inventory/{productId}: on hand, reserved, available, price.
- GET  /api/v1/products/{productId}: price and availability together.
- POST /api/v1/inventory/{productId}/adjustments {type, quantity, reason?,
  adjustmentId?}: produce Restocked, Adjusted, StockSet or
  LowStockThresholdSet to
  inventory.adjustments, the same messages warehouses send.
- POST /api/v1/products/{productId}/price {price, currency?, effectiveAt?}:
  produce PriceUpdated to prices.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

from aiohttp import web

from orderflow.gateway.context import CONTEXT
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
    price_cents = prices.unit_price_cents(body["priceCents"], ctx.settings.default_price_cents)
    return web.json_response({"productId": body["productId"], "price": amount(price_cents),
                              "currency": body["currency"],
                              "available": body["available"], "inStock": body["available"] > 0})


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
        web.post("/api/v1/products/{product_id}/price", set_price),
    ]
