"""Timer ``count_open_orders``: how many orders this worker's partitions hold
in each non-final status, and how old the oldest of each is.

The saga tells the census every status it writes (a dict store per change);
after each rebalance, once the tables are recovered, the census rebuilds
itself from one scan of the orders it now owns (what it knew of partitions
given away is dropped; what the saga wrote during the scan wins over it).
Every few seconds the gauges are set from the census.

Consumes and produces nothing; reads the ``orders`` table; owns the
orderflow_orders_open, orderflow_oldest_open_order_age_seconds and
orderflow_payment_timeout_seconds gauges.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from orderflow.metrics import OLDEST_OPEN_ORDER, ORDERS_OPEN, PAYMENT_TIMEOUT
from orderflow.schemas.messages import OrderState
from orderflow.tables import order_status as st

if TYPE_CHECKING:
    from orderflow.agents.app import Pipeline
    from orderflow.agents.orders import OrderSaga

__all__ = ["OPEN_STATUSES", "OpenOrders", "open_order_gauges", "register"]

OPEN_STATUSES = tuple(sorted(set(st.ORDER_TRANSITIONS) - st.TERMINAL))
GAUGES_EVERY_S = 5.0


class OpenOrders:
    """Status and placement time (ms) of each order not in a final status."""

    def __init__(self) -> None:
        self.orders: dict[bytes, tuple[str, int]] = {}
        self._touched: set[bytes] | None = None  # keys the saga wrote while a rebuild scans

    def note(self, key: bytes, row: OrderState) -> None:
        if row["status"] in st.TERMINAL:
            self.orders.pop(key, None)
        else:
            self.orders[key] = (row["status"], row["createdAt"])
        if self._touched is not None:
            self._touched.add(key)

    async def rebuild(self, rows: Iterable[tuple[bytes, OrderState]]) -> None:
        self._touched = set()
        scanned: dict[bytes, tuple[str, int]] = {}
        try:
            for count, (key, row) in enumerate(rows):
                if row["status"] not in st.TERMINAL:
                    scanned[key] = (row["status"], row["createdAt"])
                if count % 500 == 499:
                    await asyncio.sleep(0)  # iteration is synchronous; let the agents run
            for key in self._touched:
                scanned.pop(key, None)
                if key in self.orders:
                    scanned[key] = self.orders[key]
            self.orders = scanned
        finally:
            self._touched = None


def open_order_gauges(orders: Mapping[bytes, tuple[str, int]], now_ms: int) -> dict[str, tuple[int, float]]:
    """Per non-final status: how many orders, and the oldest one's age in seconds (0 when none)."""
    found = {status: (0, 0.0) for status in OPEN_STATUSES}
    for status, created in orders.values():
        count, oldest = found.get(status, (0, 0.0))
        found[status] = (count + 1, max(oldest, (now_ms - created) / 1000))
    return found


def register(pipeline: Pipeline, saga: OrderSaga) -> None:
    app = pipeline.app
    census = saga.census
    built_after = [0]  # the rebalance the census was last rebuilt after
    PAYMENT_TIMEOUT.set(pipeline.settings.payment_timeout_s)

    @app.timer(interval=GAUGES_EVERY_S)
    async def count_open_orders() -> None:
        if app.rebalancing or not app.tables_recovered:
            return
        if built_after[0] != app.rebalancing_count:
            built_after[0] = app.rebalancing_count
            await census.rebuild(saga.orders.items())
        for status, (count, oldest_s) in open_order_gauges(census.orders, int(time.time() * 1000)).items():
            ORDERS_OPEN.labels(status).set(count)
            OLDEST_OPEN_ORDER.labels(status).set(oldest_s)
