"""tables.customer_orders: a customer's order list, newest first, and its pages."""

from __future__ import annotations

from typing import Any

import pytest

from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec
from orderflow.tables import customer_orders as lists

CODEC = Codec()
NOW = 1_700_000_000_000

Row = dict[str, Any]


def summary(order_id: str, created: int = NOW, revision: int = 1, status: str = "pending") -> dict[str, Any]:
    return {"orderId": order_id, "customerId": "cust_1", "status": status, "totalCents": None, "currency": "USD",
            "createdAt": created, "updatedAt": created, "revision": revision}


def listed(*summaries: dict[str, Any]) -> Row:
    row: Row | None = None
    for s in summaries:
        row = lists.upsert(row, s)
        assert row is not None
    assert row is not None
    return row


def order_ids(row: Row) -> list[str]:
    return [o["orderId"] for o in row["orders"]]


# --- upsert ----------------------------------------------------------------------------

def test_first_summary_creates_the_customers_list():
    assert lists.upsert(None, summary("ord_1")) == {"customerId": "cust_1", "orders": [summary("ord_1")]}


def test_new_order_is_inserted_newest_first():
    row = listed(summary("ord_1", created=NOW), summary("ord_3", created=NOW + 2), summary("ord_2", created=NOW + 1))
    assert order_ids(row) == ["ord_3", "ord_2", "ord_1"]


def test_orders_created_at_the_same_time_are_ordered_by_id_descending():
    row = listed(summary("ord_a"), summary("ord_c"), summary("ord_b"))
    assert order_ids(row) == ["ord_c", "ord_b", "ord_a"]


def test_newer_revision_replaces_the_entry_in_place():
    row = listed(summary("ord_1", created=NOW), summary("ord_2", created=NOW + 1))
    updated = lists.upsert(row, summary("ord_1", created=NOW, revision=3, status="confirmed"))
    assert updated is not None
    assert order_ids(updated) == ["ord_2", "ord_1"]
    assert updated["orders"][1] == summary("ord_1", created=NOW, revision=3, status="confirmed")


@pytest.mark.parametrize("revision", [1, 2], ids=["older", "equal"])
def test_older_or_equal_revision_changes_nothing(revision):
    row = listed(summary("ord_1", revision=2, status="confirmed"))
    assert lists.upsert(row, summary("ord_1", revision=revision, status="cancelled")) is None
    assert row["orders"][0]["status"] == "confirmed"


def test_upsert_does_not_change_the_row_passed_in():
    row = listed(summary("ord_1"))
    lists.upsert(row, summary("ord_2", created=NOW + 1))
    lists.upsert(row, summary("ord_1", revision=2, status="confirmed"))
    assert row == {"customerId": "cust_1", "orders": [summary("ord_1")]}


def test_stored_entry_is_a_copy_of_the_summary():
    entry = summary("ord_1")
    row = listed(entry)
    entry["status"] = "changed"
    assert row["orders"][0]["status"] == "pending"


def test_list_round_trips_through_the_customer_orders_schema():
    row = listed(summary("ord_1"), summary("ord_2", created=NOW + 1, revision=4, status="confirmed"))
    assert CODEC.decode(CODEC.encode(catalog.CUSTOMER_ORDERS_TABLE.value_schema, row)).record == row


# --- page ------------------------------------------------------------------------------

FIVE = [summary(f"ord_{i}", created=NOW + i) for i in range(5)]


@pytest.mark.parametrize("number, limit, expected", [
    (1, 2, ["ord_4", "ord_3"]),
    (2, 2, ["ord_2", "ord_1"]),
    (3, 2, ["ord_0"]),
    (4, 2, []),
    (1, 10, ["ord_4", "ord_3", "ord_2", "ord_1", "ord_0"]),
    (2, 3, ["ord_1", "ord_0"]),
])
def test_page_cuts_the_list_and_counts_every_order(number, limit, expected):
    orders, total = lists.page(listed(*FIVE), number, limit)
    assert [o["orderId"] for o in orders] == expected
    assert total == 5


def test_page_of_a_customer_without_orders_is_empty():
    assert lists.page(None, 1, 10) == ([], 0)
