"""Timer ``count_open_orders``: how many orders this worker's partitions hold
in each non-final status, and how old the oldest of each is; and, for the
operator console, the last few orders to reach each status (final ones too).

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
import heapq
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING

from orderflow.metrics import OLDEST_OPEN_ORDER, ORDERS_OPEN, PAYMENT_TIMEOUT
from orderflow.schemas.messages import OrderState
from orderflow.tables import order_status as st

if TYPE_CHECKING:
    from orderflow.agents.app import Pipeline
    from orderflow.agents.orders import OrderSaga

__all__ = ["OPEN_STATUSES", "RECENT_PER_STATUS", "NewestPerStatus", "OpenOrders", "RecentOrders", "open_order_gauges",
           "register"]

OPEN_STATUSES = tuple(sorted(set(st.ORDER_TRANSITIONS) - st.TERMINAL))
GAUGES_EVERY_S = 5.0
RECENT_PER_STATUS = 20


class RecentOrders:
    """Per status, the keys of the last ``keep`` orders to reach it, newest last
    (each order under its current status only; bounded, whatever the history)."""

    def __init__(self, keep: int = RECENT_PER_STATUS) -> None:
        self.keep = keep
        self.by_status: dict[str, OrderedDict[bytes, int]] = {}
        self._status_of: dict[bytes, str] = {}

    def note(self, key: bytes, status: str, at_ms: int) -> None:
        previous = self._status_of.pop(key, None)
        if previous is not None:
            self.by_status[previous].pop(key, None)
        recent = self.by_status.setdefault(status, OrderedDict())
        recent[key] = at_ms
        self._status_of[key] = status
        while len(recent) > self.keep:
            dropped, _ = recent.popitem(last=False)
            del self._status_of[dropped]

    def newest(self, status: str, limit: int) -> list[bytes]:
        """Up to ``limit`` keys of ``status``, the most recent first."""
        return list(reversed(self.by_status.get(status, {})))[:limit]


class NewestPerStatus:
    """Collects, over one scan of every order, the newest ``keep`` of each status
    (a heap per status: memory bounded by the statuses, not by the orders)."""

    def __init__(self, keep: int = RECENT_PER_STATUS) -> None:
        self.keep = keep
        self._heaps: dict[str, list[tuple[int, bytes]]] = {}

    def add(self, key: bytes, status: str, at_ms: int) -> None:
        heap = self._heaps.setdefault(status, [])
        if len(heap) < self.keep:
            heapq.heappush(heap, (at_ms, key))
        else:
            heapq.heappushpop(heap, (at_ms, key))

    def build(self, leave_out: AbstractSet[bytes] = frozenset()) -> RecentOrders:
        built = RecentOrders(self.keep)
        for status, heap in self._heaps.items():
            for at_ms, key in sorted(heap):
                if key not in leave_out:
                    built.note(key, status, at_ms)
        return built


class OpenOrders:
    """Status and placement time (ms) of each order not in a final status."""

    def __init__(self) -> None:
        self.orders: dict[bytes, tuple[str, int]] = {}
        self.recent = RecentOrders()
        self._touched: set[bytes] | None = None  # keys the saga wrote while a rebuild scans

    def note(self, key: bytes, row: OrderState) -> None:
        self.recent.note(key, row["status"], row["updatedAt"])
        if row["status"] in st.TERMINAL:
            self.orders.pop(key, None)
        else:
            self.orders[key] = (row["status"], row["createdAt"])
        if self._touched is not None:
            self._touched.add(key)

    async def rebuild(self, rows: Iterable[tuple[bytes, OrderState]]) -> None:
        self._touched = set()
        scanned: dict[bytes, tuple[str, int]] = {}
        newest = NewestPerStatus(self.recent.keep)
        try:
            for count, (key, row) in enumerate(rows):
                newest.add(key, row["status"], row["updatedAt"])
                if row["status"] not in st.TERMINAL:
                    scanned[key] = (row["status"], row["createdAt"])
                if count % 500 == 499:
                    await asyncio.sleep(0)  # iteration is synchronous; let the agents run
            for key in self._touched:
                scanned.pop(key, None)
                if key in self.orders:
                    scanned[key] = self.orders[key]
            self.orders = scanned
            recent = newest.build(leave_out=self._touched)
            for status, keys in self.recent.by_status.items():  # what the saga wrote during the scan wins
                for key, at_ms in keys.items():
                    if key in self._touched:
                        recent.note(key, status, at_ms)
            self.recent = recent
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
