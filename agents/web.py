"""The worker's HTTP views (Faust's aiohttp web server): /healthz, /readyz,
/metrics, and the table reads the gateway forwards:

- GET /orders/{orderId}[?waitWhileStatus=S1,S2][&afterRevision=N][&timeout=T]
  (long-poll: answer once the order exists and is in none of the statuses S,
  or has passed revision N, or when T seconds are up)
- GET /customers/{customerId} (the same long-poll parameters)
- GET /inventory/{productId}
- GET /inventory (every product of this worker's own partitions, not routed:
  the gateway asks each worker and merges)
- GET /recent-orders?limit=N (the last N orders to reach each status on this
  worker's partitions, from the order census; not routed either)
- GET /members (the URLs of every worker that owns partitions now, from the
  assignment Faust shares in the group: where those two are to be asked)
- GET /customers/{customerId}/orders?page=P&limit=L
- GET /payments/{orderId} (the order's payment row, with its payment method)
- GET /shipments/{orderId} (the order's shipment row, with its customer)

Reads only; each is routed to the worker that owns the key's partition, so
any worker answers for any key. The query parameters are parsed in
``agents.web_params``; a bad one answers 400 ``invalid_request``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from faust.web import Request, Response, View

from orderflow.agents import web_params
from orderflow.agents.order_census import RECENT_PER_STATUS, OpenOrders
from orderflow.agents.runtime import Rows
from orderflow.metrics import BROKER_REACHABLE, CONTENT_TYPE_LATEST, READY, exposition
from orderflow.partitioning import partition_for_key
from orderflow.schemas import catalog
from orderflow.schemas.messages import (
    CustomerOrders,
    CustomerState,
    OrderState,
    OrderSummary,
    PaymentState,
    ProductPrice,
    ShipmentState,
    StockLevel,
)
from orderflow.tables import customer_orders, shipments
from orderflow.tables import orders as order_logic
from orderflow.tables import prices as price_logic
from orderflow.tables.stock import available, band, new_stock, threshold_of

if TYPE_CHECKING:
    from orderflow.agents.app import Pipeline

__all__ = ["order_summary", "product_view", "register", "worker_ready"]


def worker_ready(pipeline: Pipeline) -> tuple[bool, str]:
    """Ready as far as the worker itself knows: not stopping for failing
    handlers, partitions assigned and their tables recovered (recovery
    completes only after an assignment), and no rebalance in progress.
    /readyz also asks whether the broker answers."""
    app = pipeline.app
    if pipeline.failstop.tripped is not None:
        return False, pipeline.failstop.tripped
    if not app.tables_recovered:
        return False, "recovering tables"
    if app.rebalancing:
        return False, "rebalancing"
    return True, "ready"


@dataclass(frozen=True)
class Reads:
    """What the views read: the pipeline, and its tables as decoded rows."""

    pipeline: Pipeline
    orders: Rows[OrderState]
    customers: Rows[CustomerState]
    stock: Rows[StockLevel]
    prices: Rows[ProductPrice]
    customer_orders: Rows[CustomerOrders]  # whole lists from before the entries
    order_entries: Rows[OrderSummary]
    payments: Rows[PaymentState]
    shipments: Rows[ShipmentState]
    census: OpenOrders

    @classmethod
    def of(cls, pipeline: Pipeline, census: OpenOrders) -> Reads:
        return cls(pipeline=pipeline, census=census, orders=pipeline.rows(catalog.ORDERS_TABLE, OrderState),
                   customers=pipeline.rows(catalog.CUSTOMERS_TABLE, CustomerState),
                   stock=pipeline.rows(catalog.STOCK_TABLE, StockLevel),
                   prices=pipeline.rows(catalog.PRICES_TABLE, ProductPrice),
                   customer_orders=pipeline.rows(catalog.CUSTOMER_ORDERS_TABLE, CustomerOrders),
                   order_entries=pipeline.rows(catalog.CUSTOMER_ORDER_ENTRIES_TABLE, OrderSummary),
                   payments=pipeline.rows(catalog.PAYMENTS_TABLE, PaymentState),
                   shipments=pipeline.rows(catalog.SHIPMENTS_TABLE, ShipmentState))


class WorkerView(View):
    """A view of this worker; ``register`` binds ``reads`` in a subclass per pipeline."""

    reads: ClassVar[Reads]

    def json_error(self, status: int, error: str, message: str) -> Response:
        return self.json({"error": error, "message": message}, status=status)

    async def routed(self, request: Request, table: catalog.TableSpec, key: bytes,
                     local: Callable[[], Awaitable[Response]]) -> Response:
        """``local()`` on the worker that owns ``key`` in ``table`` (forwarded there if need be)."""
        return await self.reads.pipeline.routers[table.name].route(self, request, key, local)

    async def long_poll(self, request: Request, rows: Rows, key: bytes, kind: str,
                        shape: Callable[[Any], Any] | None = None) -> Response:
        """The row, once it exists and is in none of ``waitWhileStatus`` or has
        passed ``afterRevision`` (or ``timeout`` seconds are up)."""
        pipeline = self.reads.pipeline
        try:
            poll = web_params.long_poll(request.query, pipeline.settings.long_poll_max_s)
        except web_params.BadQuery as exc:
            return self.json_error(400, "invalid_request", str(exc))
        deadline = time.monotonic() + poll.wait_s
        row = rows.get(key)
        while poll.must_wait(row) and time.monotonic() < deadline:
            await pipeline.watchers.wait(key, deadline - time.monotonic())
            row = rows.get(key)
        if row is None:
            return self.json_error(404, "not_found", f"no {kind} {key.decode(errors='replace')!r}")
        return self.json(row if shape is None else shape(row))


class Healthz(WorkerView):
    async def get(self, request: Request, **params: Any) -> Response:
        return self.json({"status": "alive"})


class Readyz(WorkerView):
    async def get(self, request: Request, **params: Any) -> Response:
        ready, why = worker_ready(self.reads.pipeline)
        if ready:
            ready, why = await self.reads.pipeline.broker.check()
        return self.json({"ready": ready, "status": why}, status=200 if ready else 503)


class Metrics(WorkerView):
    async def get(self, request: Request, **params: Any) -> Response:
        reachable, _ = await self.reads.pipeline.broker.check()  # cached: a scrape asks at most every few s
        BROKER_REACHABLE.set(1 if reachable else 0)
        READY.set(1 if reachable and worker_ready(self.reads.pipeline)[0] else 0)
        return self.bytes(exposition(), content_type=CONTENT_TYPE_LATEST.split(";")[0])


class OrderView(WorkerView):
    async def get(self, request: Request, **params: Any) -> Response:
        key = params["order_id"].encode()
        return await self.routed(request, catalog.ORDERS_TABLE, key,
                                 lambda: self.long_poll(request, self.reads.orders, key, "order",
                                                        shape=lambda row: self.with_shipment(key, row)))

    def with_shipment(self, key: bytes, row: OrderState) -> dict[str, Any]:
        # shipments is co-partitioned with orders: the order's owner has its shipment too
        shipment = self.reads.shipments.get(key)
        return {**row, "shipment": None if shipment is None else shipments.shipping_view(shipment)}


class CustomerView(WorkerView):
    async def get(self, request: Request, **params: Any) -> Response:
        key = params["customer_id"].encode()
        return await self.routed(request, catalog.CUSTOMERS_TABLE, key,
                                 lambda: self.long_poll(request, self.reads.customers, key, "customer"))


class InventoryView(WorkerView):
    async def get(self, request: Request, **params: Any) -> Response:
        product_id: str = params["product_id"]
        return await self.routed(request, catalog.STOCK_TABLE, product_id.encode(), lambda: self.local(product_id))

    async def local(self, product_id: str) -> Response:
        # prices is co-partitioned with stock: the stock row's owner has both
        key = product_id.encode()
        row, price = self.reads.stock.get(key), self.reads.prices.get(key)
        if row is None and price is None:
            return self.json_error(404, "not_found", f"no product {product_id!r}")
        return self.json(product_view(product_id, row, price, self.reads.pipeline.settings.low_stock_threshold))


class ProductsView(WorkerView):
    """Every product of this worker's active partitions, by productId."""

    async def get(self, request: Request, **params: Any) -> Response:
        stock = dict(self.reads.stock.items())
        prices = dict(self.reads.prices.items())
        default = self.reads.pipeline.settings.low_stock_threshold
        return self.json({"products": [product_view(key.decode(), stock.get(key), prices.get(key), default)
                                       for key in sorted(stock.keys() | prices.keys())]})


class MembersView(WorkerView):
    """Every worker that owns partitions of the tables now, by the URL the others reach it at."""

    async def get(self, request: Request, **params: Any) -> Response:
        urls = set().union(*(router.owners() for router in self.reads.pipeline.routers.values()))
        return self.json({"workers": sorted(urls)})


def product_view(product_id: str, row: StockLevel | None, price: ProductPrice | None,
                 default_threshold: int) -> dict[str, Any]:
    """One product's stock and price as the worker answers for it."""
    row = row or new_stock(product_id)
    return {"productId": product_id, "onHand": row["onHand"], "reserved": row["reserved"],
            "available": available(row), "lowStockThreshold": threshold_of(row, default_threshold),
            "level": band(row, default_threshold),
            "priceCents": price["priceCents"] if price else None, "currency": price_logic.currency_of(price)}


class RecentOrdersView(WorkerView):
    """The last orders to reach each status on this worker's partitions, newest first."""

    async def get(self, request: Request, **params: Any) -> Response:
        try:
            limit = web_params.int_param(request.query, "limit", 10, 1, RECENT_PER_STATUS)
        except web_params.BadQuery as exc:
            return self.json_error(400, "invalid_request", str(exc))
        found: dict[str, list[dict[str, Any]]] = {}
        for status in sorted(self.reads.census.recent.by_status):
            rows = ((key, self.reads.orders.get(key)) for key in self.reads.census.recent.newest(status, limit))
            found[status] = [order_summary(row) for key, row in rows if row is not None and row["status"] == status]
        return self.json({"orders": found})


def order_summary(row: OrderState) -> dict[str, Any]:
    """The customer list's summary of an order (``tables.orders.summary``), with its line count."""
    return {**order_logic.summary(row), "lines": len(row["items"])}


class CustomerOrdersView(WorkerView):
    async def get(self, request: Request, **params: Any) -> Response:
        key = params["customer_id"].encode()
        return await self.routed(request, catalog.CUSTOMER_ORDERS_TABLE, key, lambda: self.local(request, key))

    async def local(self, request: Request, key: bytes) -> Response:
        try:
            wanted = web_params.page(request.query)
        except web_params.BadQuery as exc:
            return self.json_error(400, "invalid_request", str(exc))
        entries = self.reads.order_entries
        partition = partition_for_key(key, self.reads.pipeline.settings.partitions)  # routed here: its owner
        raw = dict(entries.scan(customer_orders.entry_prefix(key.decode()), partition))
        listed = customer_orders.listings(raw, lambda k: entries.decode(raw[k]), self.reads.customer_orders.get(key))
        found, total = customer_orders.page(listed, wanted.page, wanted.limit)
        return self.json({"orders": found,
                          "pagination": {"page": wanted.page, "limit": wanted.limit, "total": total}})


class PaymentView(WorkerView):
    async def get(self, request: Request, **params: Any) -> Response:
        key = params["order_id"].encode()
        return await self.routed(request, catalog.PAYMENTS_TABLE, key, lambda: self.local(key))

    async def local(self, key: bytes) -> Response:
        # payments is co-partitioned with orders: the payment's owner has the order too
        payment, order = self.reads.payments.get(key), self.reads.orders.get(key)
        if payment is None or payment["status"] == "none":
            return self.json_error(404, "not_found", f"no payment for order {key.decode(errors='replace')!r}")
        return self.json({**payment, "paymentMethodId": order["paymentMethodId"] if order else None})


class ShipmentView(WorkerView):
    async def get(self, request: Request, **params: Any) -> Response:
        key = params["order_id"].encode()
        return await self.routed(request, catalog.SHIPMENTS_TABLE, key, lambda: self.local(key))

    async def local(self, key: bytes) -> Response:
        shipment, order = self.reads.shipments.get(key), self.reads.orders.get(key)
        if shipment is None:
            return self.json_error(404, "not_found", f"no shipment for order {key.decode(errors='replace')!r}")
        return self.json({**shipment, "customerId": order["customerId"] if order else None})


# (path, view, view name); the names are those the views had as functions.
VIEWS: tuple[tuple[str, type[WorkerView], str], ...] = (
    ("/healthz", Healthz, "healthz"),
    ("/readyz", Readyz, "readyz"),
    ("/metrics", Metrics, "metrics"),
    ("/orders/{order_id}", OrderView, "get_order"),
    ("/customers/{customer_id}", CustomerView, "get_customer"),
    ("/inventory/{product_id}", InventoryView, "get_inventory"),
    ("/inventory", ProductsView, "list_products"),
    ("/recent-orders", RecentOrdersView, "recent_orders"),
    ("/members", MembersView, "members"),
    ("/customers/{customer_id}/orders", CustomerOrdersView, "list_orders"),
    ("/payments/{order_id}", PaymentView, "get_payment"),
    ("/shipments/{order_id}", ShipmentView, "get_shipment"),
)


def register(pipeline: Pipeline, census: OpenOrders) -> None:
    reads = Reads.of(pipeline, census)
    for path, view, name in VIEWS:
        bound = type(view.__name__, (view,), {"reads": reads, "__module__": __name__, "__doc__": view.__doc__})
        pipeline.app.page(path, name=name)(bound)
