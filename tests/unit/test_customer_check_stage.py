"""tables.orders, the customer-check stage: once every line is reserved the
order waits for the customer check; a pass asks for payment, a failure rejects
the order and gives its stock back."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from orderflow.schemas.codec import Codec
from orderflow.tables import orders as saga

CODEC = Codec()
NOW = 1_700_000_000_000
TIMEOUT_MS = 15 * 60 * 1000
PRICES = {"sku-1": 1999, "sku-2": 500}
OFFSETS = itertools.count(1)

Row = dict[str, Any]


def place_order() -> dict[str, Any]:
    return {"orderId": "ord_1", "customerId": "cust_1",
            "items": [{"productId": "sku-1", "quantity": 2, "priceCents": 1999},
                      {"productId": "sku-2", "quantity": 1, "priceCents": None}],
            "shippingAddress": None, "paymentMethodId": "pm_visa", "currency": "EUR", "placedAt": NOW - 5,
            "idempotencyKey": None}


def reserved_line(row: Row, line: int) -> dict[str, Any]:
    item = row["items"][line]
    return {"orderId": row["orderId"], "line": line, "productId": item["productId"], "quantity": item["quantity"],
            "outcome": "reserved", "unitPriceCents": PRICES[item["productId"]], "reason": None}


def check_result(passed: bool, reason: str | None = None) -> dict[str, Any]:
    return {"orderId": "ord_1", "customerId": "cust_1", "passed": passed, "reason": reason}


def decide(row: Row | None, kind: str, msg: dict[str, Any]) -> saga.Decision:
    cause = f"{kind}/0/{next(OFFSETS)}"
    return saga.decide(row, kind, msg, saga.Context(now_ms=NOW, cause=cause, payment_timeout_ms=TIMEOUT_MS))


def apply(row: Row | None, kind: str, msg: dict[str, Any]) -> Row:
    decision = decide(row, kind, msg)
    assert decision.ignored is None, decision.ignored
    assert decision.row is not None, f"{kind} changed nothing"
    CODEC.encode("orderflow.v1.OrderState", decision.row)
    CODEC.encode(f"orderflow.v1.{kind}", msg)
    return decision.row


def awaiting_check() -> Row:
    row = apply(None, "PlaceOrder", place_order())
    row = apply(row, "LineResult", reserved_line(row, 0))
    return apply(row, "LineResult", reserved_line(row, 1))


def checked(passed: bool, reason: str | None = None) -> tuple[Row, Row]:
    before = awaiting_check()
    return before, apply(before, "CustomerCheckResult", check_result(passed, reason))


def encodes_events(old: Row, new: Row) -> list[saga.Event]:
    events = saga.new_events(old, new)
    for kind, event in events:
        CODEC.encode(f"orderflow.v1.{kind}", event)
    return events


# --- all lines reserved ----------------------------------------------------------------

def test_all_lines_reserved_waits_for_the_customer_check_with_the_total_set():
    row = apply(None, "PlaceOrder", place_order())
    one = apply(row, "LineResult", reserved_line(row, 0))
    both = apply(one, "LineResult", reserved_line(one, 1))
    assert both["status"] == "pending"
    assert both["customerCheck"] == "pending"
    assert both["totalCents"] == 2 * 1999 + 500
    assert both["paymentStatus"] == "none"
    assert saga.effects(both) == {saga.CheckCustomer()}
    assert saga.new_effects(one, both) == [saga.CheckCustomer()]
    assert len(both["history"]) == 1 and saga.new_events(one, both) == []


def test_the_customer_check_waits_for_every_line():
    row = apply(None, "PlaceOrder", place_order())
    one = apply(row, "LineResult", reserved_line(row, 0))
    assert one["customerCheck"] == "none"
    assert saga.CheckCustomer() not in saga.effects(one)


def test_an_order_waiting_for_its_customer_check_does_not_request_payment():
    row = awaiting_check()
    assert saga.RequestPayment() not in saga.effects(row)
    assert saga.payment_deadline(row, TIMEOUT_MS) is None


# --- the check passes ------------------------------------------------------------------

def test_a_passed_check_awaits_payment_and_requests_it():
    before, row = checked(True)
    assert row["status"] == "pending_payment"
    assert (row["customerCheck"], row["paymentStatus"]) == ("passed", "pending")
    assert saga.effects(row) == {saga.RequestPayment()}
    assert saga.new_effects(before, row) == [saga.RequestPayment()]
    assert row["history"][-1]["status"] == "pending_payment"
    assert saga.payment_deadline(row, TIMEOUT_MS) == NOW + TIMEOUT_MS
    events = encodes_events(before, row)
    assert [(kind, e["data"]["previousStatus"], e["data"]["newStatus"]) for kind, e in events] == [
        ("OrderStatusChanged", "pending", "pending_payment")]


# --- the check fails -------------------------------------------------------------------

@pytest.mark.parametrize("reason", ["unknown_customer", "velocity_limit"])
def test_a_failed_check_rejects_the_order_with_its_reason_and_releases_every_line(reason: str):
    before, row = checked(False, reason)
    assert row["status"] == "rejected"
    assert row["customerCheck"] == "failed"
    assert row["paymentStatus"] == "none"
    assert row["history"][-1]["reason"] == reason
    assert saga.effects(row) == {saga.Release(0), saga.Release(1)}
    assert saga.new_effects(before, row) == [saga.Release(0), saga.Release(1)]
    events = encodes_events(before, row)
    assert [(kind, e["data"]["newStatus"], e["data"]["reason"]) for kind, e in events] == [
        ("OrderStatusChanged", "rejected", reason)]


def test_a_failed_check_without_a_reason_still_rejects_the_order():
    _, row = checked(False, None)
    assert row["status"] == "rejected" and row["history"][-1]["reason"]


# --- results that come too late --------------------------------------------------------

@pytest.mark.parametrize(("first", "again"), [
    ((True, None), (True, None)), ((False, "velocity_limit"), (False, "velocity_limit")),
    ((True, None), (False, "velocity_limit")), ((False, "unknown_customer"), (True, None)),
], ids=["pass_again", "fail_again", "fail_after_pass", "pass_after_fail"])
def test_a_repeated_check_result_changes_nothing(first: tuple[bool, str | None], again: tuple[bool, str | None]):
    _, row = checked(*first)
    assert decide(row, "CustomerCheckResult", check_result(*again)) == saga.UNCHANGED


@pytest.mark.parametrize("passed", [True, False])
def test_a_check_result_after_the_order_was_cancelled_changes_nothing(passed: bool):
    row = apply(awaiting_check(), "CancelOrder", {"orderId": "ord_1", "reason": None, "requestedAt": NOW})
    assert row["status"] == "cancelled"
    assert saga.CheckCustomer() not in saga.effects(row)
    assert saga.effects(row) == {saga.Release(0), saga.Release(1)}
    assert decide(row, "CustomerCheckResult", check_result(passed, None if passed else "velocity_limit")) == \
        saga.UNCHANGED


def test_a_check_result_before_the_lines_are_in_changes_nothing():
    row = apply(None, "PlaceOrder", place_order())
    assert decide(row, "CustomerCheckResult", check_result(True)) == saga.UNCHANGED


def test_a_check_result_for_an_unknown_order_is_ignored():
    decision = decide(None, "CustomerCheckResult", check_result(True))
    assert decision.row is None and decision.ignored
