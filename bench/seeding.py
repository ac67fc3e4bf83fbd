"""Seeds a run through the gateway's own routes before any order is sent:
customers (POST /api/v1/customers) and stock (POST
/api/v1/inventory/{p}/adjustments, restock), then waits until every product
reads back with its stock and every customer is active.

Consumes the gateway URL, the run id and the units each product needs;
produces the customer ids. Ids carry the run id, so runs never share rows.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable

import aiohttp

__all__ = ["SeedError", "seed"]

CONCURRENCY = 16
READY_TIMEOUT_S = 120.0


class SeedError(RuntimeError):
    """The stack did not accept or show the seeded rows in time."""


async def _bounded(items: Iterable[object], work: Callable[[object], Awaitable[None]]) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(item: object) -> None:
        async with gate:
            await work(item)

    await asyncio.gather(*(one(i) for i in items))


async def _eventually(session: aiohttp.ClientSession, url: str, ok: Callable[[dict], bool]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        async with session.get(url) as resp:
            if resp.status == 200 and ok(await resp.json()):
                return
        await asyncio.sleep(0.2)  # polling the stack for a seeded row
    raise SeedError(f"{url} did not show the seeded row within {READY_TIMEOUT_S:.0f}s")


async def seed(gateway_url: str, run_id: str, customers: int, stock: dict[str, int],
               headers: dict[str, str] | None = None, tls: ssl.SSLContext | bool = True) -> list[str]:
    """Create ``customers`` customers and restock every product; return the customer ids."""
    ids: list[str] = []
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(gateway_url, timeout=timeout, headers=headers,
                                     connector=aiohttp.TCPConnector(ssl=tls)) as session:

        async def customer(index: object) -> None:
            async with session.post("/api/v1/customers", json={"email": f"bench-{run_id}-{index}@example.com"}) as r:
                if r.status not in (201, 202):
                    raise SeedError(f"customer {index}: HTTP {r.status} {await r.text()}")
                ids.append((await r.json())["customerId"])

        async def restock(product: object) -> None:
            body = {"type": "restock", "quantity": stock[str(product)], "reason": "bench"}
            async with session.post(f"/api/v1/inventory/{product}/adjustments", json=body) as r:
                if r.status != 202:
                    raise SeedError(f"restock {product}: HTTP {r.status} {await r.text()}")

        await _bounded(range(customers), customer)
        await _bounded(stock, restock)
        async def stocked(product: object) -> None:
            await _eventually(session, f"/api/v1/inventory/{product}",
                              lambda row: row.get("onHand", 0) >= stock[str(product)])

        await _bounded(stock, stocked)
        await _bounded(ids, lambda c: _eventually(session, f"/api/v1/customers/{c}", lambda _row: True))
    return sorted(ids)
