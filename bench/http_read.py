"""HTTP read load: GET /api/v1/orders/{orderId} at a fixed rate, open loop,
on aiohttp, with latency from each request's scheduled time in an HDR
histogram.

Consumes a :class:`Target` (a running stack); places ``orders`` orders first
through the bench's own seeding and Kafka ingress, waits until each is
readable, then reads them at random. Produces requests per second, status
counts and latency percentiles (ms), from the scheduled time and from the
actual send.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from typing import Any

import aiohttp
from hdrh.histogram import HdrHistogram

from orderflow.bench.config import BenchConfig
from orderflow.bench.recorder import summary
from orderflow.bench.seeding import seed
from orderflow.bench.senders import KafkaIngress, open_loop
from orderflow.bench.target import Target
from orderflow.bench.workload import Workload
from orderflow.schemas.codec import Codec

__all__ = ["read_load", "reads_markdown"]

CONNECTIONS = 64


async def _place_orders(target: Target, count: int) -> list[str]:
    run_id = uuid.uuid4().hex[:8]
    config = BenchConfig(products=50, customers=20)
    products = [f"br{run_id}_{i}" for i in range(config.products)]
    stock = Workload(config, products, ["none"]).stock_needed(count)
    workload = Workload(config, products, await seed(target.gateway_url, run_id, config.customers, stock,
                                                        target.headers, target.ssl))
    kafka = KafkaIngress(target.ingress, Codec(), run_id)
    ids = []
    for i in range(count):
        order = workload.order(i)
        ids.append(kafka.order_id(order))
        kafka.place(ids[-1], order, time.monotonic())
    await kafka.close()
    return ids


async def _wait_readable(session: aiohttp.ClientSession, order_ids: list[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    for order_id in order_ids:
        while True:
            async with session.get(f"/api/v1/orders/{order_id}") as resp:
                await resp.read()
                if resp.status == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"order {order_id} not readable after {timeout:.0f}s")
            await asyncio.sleep(0.1)  # polling until the order is in the table


async def _reads(target: Target, rate: float, duration: float, orders: int, echo) -> dict[str, Any]:
    order_ids = await _place_orders(target, orders)
    scheduled_h, service_h = HdrHistogram(1, 3_600_000_000, 3), HdrHistogram(1, 3_600_000_000, 3)
    statuses: Counter[str] = Counter()
    pick = random.Random(1)
    tasks: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession(target.gateway_url, headers=target.headers,
                                     connector=aiohttp.TCPConnector(limit=CONNECTIONS, ssl=target.ssl),
                                     timeout=aiohttp.ClientTimeout(total=30)) as session:
        await _wait_readable(session, order_ids)
        echo(f"{orders} orders readable; reading at {rate:.0f}/s for {duration:.0f}s ...")

        async def get(order_id: str, scheduled: float) -> None:
            began = time.monotonic()
            try:
                async with session.get(f"/api/v1/orders/{order_id}") as resp:
                    await resp.read()
                    statuses[str(resp.status)] += 1
            except (TimeoutError, aiohttp.ClientError) as exc:
                statuses[type(exc).__name__] += 1
            done = time.monotonic()
            scheduled_h.record_value(max(1, int((done - scheduled) * 1e6)))
            service_h.record_value(max(1, int((done - began) * 1e6)))

        def fire(_i: int, scheduled: float) -> None:
            task = asyncio.ensure_future(get(pick.choice(order_ids), scheduled))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        began = time.monotonic()
        sent = await open_loop(rate, duration, fire)
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - began
    return {"rate": rate, "duration_s": duration, "sent": sent, "elapsed_s": round(elapsed, 2),
            "requests_per_s": round(sent / elapsed, 1), "statuses": dict(statuses),
            "latency_ms": summary(scheduled_h), "service_ms": summary(service_h), "connections": CONNECTIONS}


def read_load(target: Target, rate: float, duration: float, orders: int, echo=print) -> dict[str, Any]:
    return asyncio.run(_reads(target, rate, duration, orders, echo))


def reads_markdown(figures: dict[str, Any]) -> str:
    lat, svc = figures["latency_ms"], figures["service_ms"]
    return ("| GET /api/v1/orders/{id} target/s | done/s | statuses | p50 ms | p99 ms | p99.9 ms | max ms "
            "| p99 from send ms |\n|---:|---:|---|---:|---:|---:|---:|---:|\n"
            f"| {figures['rate']:,.0f} | {figures['requests_per_s']:,.1f} | {figures['statuses']} "
            f"| {lat.get('p50')} | {lat.get('p99')} | {lat.get('p99.9')} | {lat.get('max')} | {svc.get('p99')} |\n")
