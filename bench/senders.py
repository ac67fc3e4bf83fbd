"""The ingress a run sends through, and the price updates beside it.

``KafkaIngress`` produces PlaceOrder and CancelOrder records (Avro, the codec's
framing) to ``catalog.ORDER_COMMANDS`` and PriceUpdated to ``catalog.PRICES``
with the project's producer config, as any external client would.
``HttpIngress`` POSTs /api/v1/orders (with an Idempotency-Key, so the orderId
is known before the answer) and /api/v1/orders/{id}/cancel through the gateway,
recording each response time. Neither waits for an answer before the next
send: the load is open loop. ``open_loop`` is the schedule.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
from confluent_kafka import Producer

from orderflow.bench.recorder import Recorder
from orderflow.bench.workload import Order
from orderflow.gateway.orders import order_id_for
from orderflow.gateway.producer import producer_config
from orderflow.kafka_client import KafkaClient
from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec
from orderflow.tables.clock import now_ms

__all__ = ["HttpIngress", "KafkaIngress", "open_loop"]

PLACE_ORDER = f"{catalog.NAMESPACE}.PlaceOrder"
CANCEL_ORDER = f"{catalog.NAMESPACE}.CancelOrder"
PRICE_UPDATED = f"{catalog.NAMESPACE}.PriceUpdated"


async def open_loop(rate: float, duration: float, fire: Callable[[int, float], None],
                    tick: Callable[[], None] = lambda: None) -> int:
    """Call ``fire(i, scheduled)`` for i = 0 .. rate*duration-1 at ``start + i/rate``;
    a late loop fires what is due at once, with the times it was due. Returns the count."""
    total = int(rate * duration)
    start = time.monotonic()
    i = 0
    while i < total:
        due = min(total, int((time.monotonic() - start) * rate) + 1)
        while i < due:
            fire(i, start + i / rate)
            i += 1
        tick()
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
    return total


class KafkaIngress:
    def __init__(self, kafka: KafkaClient | str, codec: Codec, run_id: str) -> None:
        self._producer = Producer(producer_config(kafka))
        self._codec = codec
        self._run_id = run_id
        self.recorder = Recorder()

    def order_id(self, order: Order) -> str:
        return f"ord_{self._run_id}_{order.index}"

    def _on_delivery(self, err: object, _msg: object) -> None:
        if err is not None:
            self.recorder.count("send_errors")

    def place(self, order_id: str, order: Order, scheduled: float) -> None:
        record = {"orderId": order_id, "customerId": order.customer_id, "items": order.items(),
                  "paymentMethodId": order.payment_method, "placedAt": now_ms()}
        self._produce(catalog.ORDER_COMMANDS, order_id, self._codec.encode(PLACE_ORDER, record))

    def cancel(self, order_id: str) -> None:
        record = {"orderId": order_id, "reason": "bench", "requestedAt": now_ms()}
        self._produce(catalog.ORDER_COMMANDS, order_id, self._codec.encode(CANCEL_ORDER, record))

    def price(self, product_id: str, record: dict[str, object]) -> None:
        self._produce(catalog.PRICES, product_id, self._codec.encode(PRICE_UPDATED, record))

    def _produce(self, spec: catalog.TopicSpec, key: str, value: bytes) -> None:
        while True:
            try:
                self._producer.produce(spec.name, key=key.encode(), value=value, on_delivery=self._on_delivery)
                return
            except BufferError:  # librdkafka's queue is full: serve callbacks, then retry
                self._producer.poll(0.01)

    def poll(self) -> None:
        self._producer.poll(0)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._producer.flush, 30)


class HttpIngress:
    """Orders and cancellations through the gateway; prices still go to Kafka."""

    def __init__(self, gateway_url: str, prices: KafkaIngress, run_id: str, connections: int = 256,
                 headers: dict[str, str] | None = None, tls: ssl.SSLContext | bool = True) -> None:
        self._session = aiohttp.ClientSession(
            gateway_url, connector=aiohttp.TCPConnector(limit=connections, ssl=tls), headers=headers,
            timeout=aiohttp.ClientTimeout(total=60))
        self._prices = prices
        self._run_id = run_id
        self._tasks: set[asyncio.Task[None]] = set()
        self.recorder = Recorder()
        self.on_failed: Callable[[str], None] = lambda _order_id: None

    def _idempotency_key(self, order: Order) -> str:
        return f"bench-{self._run_id}-{order.index}"

    def order_id(self, order: Order) -> str:
        return order_id_for(order.customer_id, self._idempotency_key(order))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def place(self, order_id: str, order: Order, scheduled: float) -> None:
        body = {"customerId": order.customer_id, "items": order.items(), "paymentMethodId": order.payment_method}
        self._spawn(self._post("/api/v1/orders", body, {"Idempotency-Key": self._idempotency_key(order)},
                               order_id, expect=202))

    def cancel(self, order_id: str) -> None:
        self._spawn(self._post(f"/api/v1/orders/{order_id}/cancel", {"reason": "bench"}, {}, None, expect=200))

    def price(self, product_id: str, record: dict[str, object]) -> None:
        self._prices.price(product_id, record)

    async def _post(self, path: str, body: object, headers: dict[str, str], order_id: str | None,
                    expect: int) -> None:
        began = time.monotonic()
        try:
            async with self._session.post(path, json=body, headers=headers) as resp:
                await resp.read()
                status = resp.status
        except (TimeoutError, aiohttp.ClientError):
            status = 599
        if order_id is not None:
            self.recorder.http_done(time.monotonic() - began, status)
            if status != expect:
                self.on_failed(order_id)
        elif status not in (expect, 202, 409):
            self.recorder.count("send_errors")

    def poll(self) -> None:
        self._prices.poll()

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._session.close()
        await self._prices.close()
