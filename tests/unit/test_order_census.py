"""The open-order census: counts and oldest age per non-final status, kept
from the saga's writes and rebuilt from a scan after a rebalance."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from orderflow.agents.order_census import OPEN_STATUSES, OpenOrders, open_order_gauges


def row(order_id: str, status: str, created: int) -> Any:
    return {"orderId": order_id, "status": status, "createdAt": created}


def test_the_open_statuses_are_those_an_order_can_still_leave() -> None:
    assert OPEN_STATUSES == ("confirmed", "pending", "pending_payment", "shipped")


def test_counts_and_oldest_age_per_status_with_zero_for_an_empty_one() -> None:
    census = OpenOrders()
    census.note(b"a", row("a", "pending", 1_000))
    census.note(b"b", row("b", "pending", 4_000))
    census.note(b"c", row("c", "pending_payment", 2_000))
    census.note(b"c", row("c", "confirmed", 2_000))
    census.note(b"b", row("b", "rejected", 4_000))
    gauges = open_order_gauges(census.orders, now_ms=11_000)
    assert gauges == {"pending": (1, 10.0), "pending_payment": (0, 0.0), "confirmed": (1, 9.0),
                      "shipped": (0, 0.0)}


def test_a_rebuild_keeps_only_the_scanned_orders_and_what_the_saga_wrote_meanwhile() -> None:
    census = OpenOrders()
    census.note(b"gone", row("gone", "pending", 1))  # a partition given away in the rebalance

    def scan() -> Iterator[tuple[bytes, Any]]:
        yield b"kept", row("kept", "pending_payment", 5)
        yield b"done", row("done", "delivered", 5)
        # the saga moves "kept" on and places "new" while the scan is under way
        census.note(b"kept", row("kept", "confirmed", 5))
        census.note(b"new", row("new", "pending", 7))
        yield b"late", row("late", "shipped", 6)

    asyncio.run(census.rebuild(scan()))
    assert census.orders == {b"kept": ("confirmed", 5), b"new": ("pending", 7), b"late": ("shipped", 6)}
