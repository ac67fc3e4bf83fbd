"""The worker's HTTP views (Faust's aiohttp web server): /healthz, /readyz,
/metrics, and the table reads the gateway forwards, GET /orders/{order_id}.

Reads only; table reads are routed by Faust to the worker that owns the key's
partition, so any worker answers for any order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faust.web import Request, Response, View

from orderflow.metrics import CONTENT_TYPE_LATEST, exposition

if TYPE_CHECKING:
    from orderflow.agents.app import Pipeline

__all__ = ["register", "worker_ready"]


def worker_ready(pipeline: Pipeline) -> tuple[bool, str]:
    """Ready means: tables recovered and no rebalance in progress."""
    app = pipeline.app
    if not app.tables.recovery.completed.is_set():
        return False, "recovering tables"
    if app.rebalancing:
        return False, "rebalancing"
    return True, "ready"


def register(pipeline: Pipeline) -> None:
    app, codec, orders = pipeline.app, pipeline.codec, pipeline.orders

    @app.page("/healthz")
    async def healthz(self: View, request: Request) -> Response:
        return self.json({"status": "alive"})

    @app.page("/readyz")
    async def readyz(self: View, request: Request) -> Response:
        ready, why = worker_ready(pipeline)
        return self.json({"ready": ready, "status": why}, status=200 if ready else 503)

    @app.page("/metrics")
    async def metrics(self: View, request: Request) -> Response:
        return self.bytes(exposition(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/orders/{order_id}")
    async def get_order(self: View, request: Request, order_id: str) -> Response:
        key = order_id.encode()

        async def local() -> Response:
            raw = orders.get(key)
            if raw is None:
                return not_found(self, "order", order_id)
            return self.json(codec.decode(raw).record)

        return await pipeline.orders_router.route(self, request, key, local)


def not_found(view: View, kind: str, ident: str) -> Any:
    return view.json({"error": "not_found", "message": f"no {kind} {ident!r}"}, status=404)
