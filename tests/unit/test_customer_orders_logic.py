"""tables.customer_orders: a customer's order list, one entry per order,
newest first, and its pages (old whole-list rows read beside the entries)."""

from __future__ import annotations

from typing import Any

import pytest

from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec
from orderflow.tables import customer_orders as lists

CODEC = Codec()
NOW = 1_700_000_000_000


def summary(order_id: str, created: int = NOW, revision: int = 1, status: str = "pending") -> dict[str, Any]:
    return {"orderId": order_id, "customerId": "cust_1", "status": status, "totalCents": None, "currency": "USD",
            "createdAt": created, "updatedAt": created, "revision": revision}


def stored(*summaries: dict[str, Any]) -> dict[bytes, dict[str, Any]]:
    """The entries the agent writes for these summaries, in order (an older revision is not written)."""
    entries: dict[bytes, dict[str, Any]] = {}
    for s in summaries:
        key = lists.entry_key(s)
        new = lists.newer(entries.get(key), s)
        if new is not None:
            entries[key] = new
    return entries


def page(entries: dict[bytes, dict[str, Any]], number: int = 1, limit: int = 100,
         legacy: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], int]:
    keys = sorted(entries)  # as the store's prefix scan returns them
    return lists.page(lists.listings(keys, entries.__getitem__, legacy), number, limit)


def order_ids(entries: dict[bytes, dict[str, Any]], **kwargs: Any) -> list[str]:
    return [o["orderId"] for o in page(entries, **kwargs)[0]]


# --- entries ---------------------------------------------------------------------------

def test_each_order_is_an_entry_of_its_own_under_the_customer_s_prefix():
    entries = stored(summary("ord_1"), summary("ord_2", created=NOW + 1))
    assert len(entries) == 2
    assert all(key.startswith(lists.entry_prefix("cust_1")) for key in entries)
    assert not lists.entry_key(summary("ord_1")).startswith(lists.entry_prefix("cust_10"))


def test_new_orders_come_newest_first():
    entries = stored(summary("ord_1", created=NOW), summary("ord_3", created=NOW + 2),
                     summary("ord_2", created=NOW + 1), summary("ord_old", created=NOW - 10**9))
    assert order_ids(entries) == ["ord_3", "ord_2", "ord_1", "ord_old"]


def test_orders_created_at_the_same_time_are_ordered_by_id_descending():
    assert order_ids(stored(summary("ord_a"), summary("ord_c"), summary("ord_b"))) == ["ord_c", "ord_b", "ord_a"]


def test_a_newer_revision_replaces_the_entry_in_place():
    entries = stored(summary("ord_1", created=NOW), summary("ord_2", created=NOW + 1),
                     summary("ord_1", created=NOW, revision=3, status="confirmed"))
    found, total = page(entries)
    assert [o["orderId"] for o in found] == ["ord_2", "ord_1"] and total == 2
    assert found[1] == summary("ord_1", created=NOW, revision=3, status="confirmed")


@pytest.mark.parametrize("revision", [1, 2], ids=["older", "equal"])
def test_an_older_or_equal_revision_changes_nothing(revision):
    current = summary("ord_1", revision=2, status="confirmed")
    assert lists.newer(current, summary("ord_1", revision=revision, status="cancelled")) is None


def test_the_stored_entry_is_a_copy_of_the_summary():
    entry = summary("ord_1")
    written = lists.newer(None, entry)
    entry["status"] = "changed"
    assert written is not None and written["status"] == "pending"


def test_an_entry_round_trips_through_its_table_s_schema():
    entry = summary("ord_2", revision=4, status="confirmed")
    assert CODEC.decode(CODEC.encode(catalog.CUSTOMER_ORDER_ENTRIES_TABLE.value_schema, entry)).record == entry


# --- pages -----------------------------------------------------------------------------

FIVE = stored(*(summary(f"ord_{i}", created=NOW + i) for i in range(5)))


@pytest.mark.parametrize("number, limit, expected", [
    (1, 2, ["ord_4", "ord_3"]),
    (2, 2, ["ord_2", "ord_1"]),
    (3, 2, ["ord_0"]),
    (4, 2, []),
    (1, 10, ["ord_4", "ord_3", "ord_2", "ord_1", "ord_0"]),
    (2, 3, ["ord_1", "ord_0"]),
])
def test_a_page_cuts_the_list_and_counts_every_order(number, limit, expected):
    found, total = page(FIVE, number, limit)
    assert [o["orderId"] for o in found] == expected
    assert total == 5


def test_only_the_page_s_entries_are_read():
    read: list[bytes] = []

    def read_entry(key: bytes) -> dict[str, Any]:
        read.append(key)
        return FIVE[key]

    lists.page(lists.listings(sorted(FIVE), read_entry, None), 2, 2)
    assert [FIVE[k]["orderId"] for k in read] == ["ord_2", "ord_1"]


def test_the_page_of_a_customer_without_orders_is_empty():
    assert page({}) == ([], 0)


def test_an_old_whole_list_row_is_read_beside_the_entries_which_win_for_the_same_order():
    legacy = {"customerId": "cust_1", "orders": [summary("ord_9", created=NOW + 9, status="confirmed"),
                                                  summary("ord_0", created=NOW - 1, status="confirmed")]}
    entries = stored(summary("ord_9", created=NOW + 9, revision=5, status="delivered"), summary("ord_5", NOW + 5))
    found, total = page(entries, legacy=legacy)
    assert [(o["orderId"], o["status"]) for o in found] == [("ord_9", "delivered"), ("ord_5", "pending"),
                                                             ("ord_0", "confirmed")]
    assert total == 3
