"""The worker's HTTP views (Faust's aiohttp web server): /healthz, /readyz,
/metrics, and the table reads the gateway forwards:

- GET /orders/{orderId}[?waitWhileStatus=S1,S2][&afterRevision=N][&timeout=T]
  (long-poll: answer once the order exists and is in none of the statuses S,
  or has passed revision N, or when T seconds are up)
- GET /customers/{customerId} (the same long-poll parameters)
- GET /inventory/{productId}
- GET /customers/{customerId}/orders?page=P&limit=L

Reads only; each is routed to the worker that owns the key's partition, so
any worker answers for any key.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from faust.web import Request, Response, View

from orderflow.agents.rows import Rows
from orderflow.metrics import CONTENT_TYPE_LATEST, exposition
from orderflow.schemas import catalog
from orderflow.tables import customer_orders
from orderflow.tables import prices as price_logic
from orderflow.tables.stock import available, new_stock

if TYPE_CHECKING:
    from orderflow.agents.app import Pipeline

__all__ = ["register", "worker_ready"]


def worker_ready(pipeline: Pipeline) -> tuple[bool, str]:
    """Ready as far as the worker itself knows: partitions assigned and their
    tables recovered (recovery completes only after an assignment), and no
    rebalance in progress. /readyz also asks whether the broker answers."""
    app = pipeline.app
    if not app.tables_recovered:
        return False, "recovering tables"
    if app.rebalancing:
        return False, "rebalancing"
    return True, "ready"


def _error(view: View, status: int, error: str, message: str) -> Response:
    return view.json({"error": error, "message": message}, status=status)


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    value = int(raw)  # ValueError is answered with 400 by the caller
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}")
    return value


def _must_wait(row: dict[str, Any] | None, wait_while: frozenset[str] | None, after_revision: int | None) -> bool:
    if wait_while is None and after_revision is None:
        return False
    if row is None:
        return True
    if wait_while is not None and row["status"] in wait_while:
        return True
    return after_revision is not None and row["revision"] <= after_revision


def register(pipeline: Pipeline) -> None:
    app, codec, settings = pipeline.app, pipeline.codec, pipeline.settings
    orders = Rows(pipeline.tables["orders"], codec, catalog.ORDERS_TABLE.value_schema)
    stock = Rows(pipeline.tables["stock"], codec, catalog.STOCK_TABLE.value_schema)
    prices = Rows(pipeline.tables[catalog.PRICES_TABLE.name], codec, catalog.PRICES_TABLE.value_schema)
    lists = Rows(pipeline.tables["customer-orders"], codec, catalog.CUSTOMER_ORDERS_TABLE.value_schema)
    customers = Rows(pipeline.tables["customers"], codec, catalog.CUSTOMERS_TABLE.value_schema)

    async def routed(view: View, request: Request, table: str, key: bytes,
                     local: Callable[[], Awaitable[Response]]) -> Response:
        return await pipeline.routers[table].route(view, request, key, local)

    @app.page("/healthz")
    async def healthz(self: View, request: Request) -> Response:
        return self.json({"status": "alive"})

    @app.page("/readyz")
    async def readyz(self: View, request: Request) -> Response:
        ready, why = worker_ready(pipeline)
        if ready:
            ready, why = await pipeline.broker.check()
        return self.json({"ready": ready, "status": why}, status=200 if ready else 503)

    @app.page("/metrics")
    async def metrics(self: View, request: Request) -> Response:
        return self.bytes(exposition(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    async def long_poll(view: View, request: Request, rows: Rows, key: bytes, kind: str) -> Response:
        """The row, once it exists and is in none of ``waitWhileStatus`` or has
        passed ``afterRevision`` (or ``timeout`` seconds are up)."""
        try:
            timeout = min(float(request.query.get("timeout", settings.long_poll_max_s)), settings.long_poll_max_s)
            after = request.query.get("afterRevision")
            after_revision = None if after is None else int(after)
        except ValueError as exc:
            return _error(view, 400, "invalid_request", f"bad query parameter: {exc}")
        statuses = request.query.get("waitWhileStatus")
        wait_while = None if statuses is None else frozenset(statuses.split(","))
        deadline = time.monotonic() + max(timeout, 0.0)
        row = rows.get(key)
        while _must_wait(row, wait_while, after_revision) and time.monotonic() < deadline:
            await pipeline.watchers.wait(key, deadline - time.monotonic())
            row = rows.get(key)
        if row is None:
            return _error(view, 404, "not_found", f"no {kind} {key.decode(errors='replace')!r}")
        return view.json(row)

    @app.page("/orders/{order_id}")
    async def get_order(self: View, request: Request, order_id: str) -> Response:
        key = order_id.encode()
        return await routed(self, request, "orders", key, lambda: long_poll(self, request, orders, key, "order"))

    @app.page("/customers/{customer_id}")
    async def get_customer(self: View, request: Request, customer_id: str) -> Response:
        key = customer_id.encode()
        return await routed(self, request, "customers", key,
                            lambda: long_poll(self, request, customers, key, "customer"))

    @app.page("/inventory/{product_id}")
    async def get_inventory(self: View, request: Request, product_id: str) -> Response:
        key = product_id.encode()

        async def local() -> Response:
            # prices is co-partitioned with stock: the stock row's owner has both
            row, price = stock.get(key), prices.get(key)
            if row is None and price is None:
                return _error(self, 404, "not_found", f"no product {product_id!r}")
            row = row or new_stock(product_id)
            return self.json({"productId": product_id, "onHand": row["onHand"], "reserved": row["reserved"],
                              "available": available(row),
                              "priceCents": price["priceCents"] if price else None,
                              "currency": price_logic.currency_of(price)})

        return await routed(self, request, "stock", key, local)

    @app.page("/customers/{customer_id}/orders")
    async def list_orders(self: View, request: Request, customer_id: str) -> Response:
        key = customer_id.encode()

        async def local() -> Response:
            try:
                page = _int_param(request, "page", 1, 1, 1_000_000)
                limit = _int_param(request, "limit", 20, 1, 100)
            except ValueError as exc:
                return _error(self, 400, "invalid_request", str(exc))
            found, total = customer_orders.page(lists.get(key), page, limit)
            return self.json({"orders": found, "pagination": {"page": page, "limit": limit, "total": total}})

        return await routed(self, request, "customer-orders", key, local)
