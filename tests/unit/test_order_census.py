"""The open-order census: counts and oldest age per non-final status, and the
last orders to reach each status, kept from the saga's writes and rebuilt
from a scan after a rebalance."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from orderflow.agents.order_census import OPEN_STATUSES, NewestPerStatus, OpenOrders, RecentOrders, open_order_gauges


def row(order_id: str, status: str, created: int, updated: int | None = None) -> Any:
    return {"orderId": order_id, "status": status, "createdAt": created,
            "updatedAt": created if updated is None else updated}


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
    recent = census.recent
    assert {status: recent.newest(status, 10) for status in recent.by_status if recent.by_status[status]} == {
        "confirmed": [b"kept"], "delivered": [b"done"], "pending": [b"new"], "shipped": [b"late"]}


def test_the_recent_orders_of_a_status_are_the_last_to_reach_it_newest_first_each_only_under_its_status() -> None:
    recent = RecentOrders(keep=3)
    for i in range(5):
        recent.note(f"o{i}".encode(), "confirmed", 100 + i)
    recent.note(b"o4", "shipped", 200)  # moved on: no longer among the confirmed
    assert recent.newest("confirmed", 10) == [b"o3", b"o2"]
    assert recent.newest("confirmed", 1) == [b"o3"]
    assert recent.newest("shipped", 10) == [b"o4"]
    assert recent.newest("rejected", 10) == []


def test_a_scan_keeps_the_newest_of_each_status_whatever_order_the_rows_come_in() -> None:
    newest = NewestPerStatus(keep=2)
    for key, status, at in [(b"a", "confirmed", 5), (b"b", "confirmed", 9), (b"c", "rejected", 1),
                            (b"d", "confirmed", 7), (b"e", "confirmed", 2)]:
        newest.add(key, status, at)
    built = newest.build(leave_out={b"d"})
    assert built.newest("confirmed", 5) == [b"b"]  # d (7) was among the newest two, but the saga wrote it since
    assert built.newest("rejected", 5) == [b"c"]
