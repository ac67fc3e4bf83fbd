"""Changing an unpaid order (seed 002's PUT /orders/{id}): the saga reserves what is added, keeps the old
lines until the new total is paid, refuses a change it cannot reserve, and lets a payment captured
first win. Pure, through tables.orders' decisions."""

from __future__ import annotations

from typing import Any

from orderflow.tables import orders as saga
from orderflow.tables import payments
from tests.unit.test_orders_logic import NOW, apply, awaiting_payment, decide, line_result, payment_event

Row = dict[str, Any]


def change(*items: tuple[str, int], change_id: str = "chg_1") -> dict[str, Any]:
    return {"orderId": "ord_1", "changeId": change_id, "requestedAt": NOW,
            "items": [{"productId": p, "quantity": q, "priceCents": None} for p, q in items]}


def lines(row: Row) -> list[tuple[str, int, str, str | None, str | None]]:
    return [(i["productId"], i["quantity"], i["status"], i["addedBy"], i["removedBy"]) for i in row["items"]]


def started() -> Row:
    """awaiting_payment() is sku-1 x2 and sku-2 x1: drop sku-2, make sku-1 x3, add sku-3 x4."""
    return apply(awaiting_payment(), "ChangeOrder", change(("sku-1", 3), ("sku-3", 4)))


def test_a_change_reserves_what_it_adds_and_keeps_the_old_lines_reserved_meanwhile():
    row = started()
    assert lines(row) == [("sku-1", 2, "reserved", None, "chg_1"), ("sku-2", 1, "reserved", None, "chg_1"),
                          ("sku-1", 3, "pending", "chg_1", None), ("sku-3", 4, "pending", "chg_1", None)]
    assert (row["change"]["status"], row["paymentVersion"], row["totalCents"]) == ("pending", 1, 4498)
    assert saga.new_effects(awaiting_payment(), row) == [saga.Reserve(2), saga.Reserve(3)]
    assert not saga.awaits_payment(row)  # no payment is asked for while the change is being made


def test_once_the_additions_are_reserved_the_new_total_is_asked_for():
    row = started()
    before = row
    row = apply(row, "LineResult", line_result(row, 2, "reserved"))
    row = apply(row, "LineResult", line_result(row, 3, "reserved"))
    assert (row["change"]["status"], row["totalCents"]) == ("applied", 3 * 1999 + 4 * 250)
    [ask] = saga.new_effects(before, row)
    assert ask == saga.RequestPayment(version=1)
    assert ask.command(row, NOW).record["amountCents"] == 6997 and ask.command(row, NOW).record["version"] == 1
    # paid: the kept and added lines are sold, the removed ones given back
    paid = apply(row, "PaymentCompleted", payment_event("PaymentCompleted", amountCents=6997, version=1))
    assert paid["status"] == "confirmed"
    assert set(saga.new_effects(row, paid)) >= {saga.Sell(2), saga.Sell(3), saga.Release(0), saga.Release(1)}
    assert saga.Sell(0) not in saga.effects(paid)


def test_a_change_that_cannot_be_reserved_is_refused_and_the_order_keeps_its_lines():
    row = started()
    row = apply(row, "LineResult", line_result(row, 2, "reserved"))
    before = row
    row = apply(row, "LineResult", line_result(row, 3, "rejected", "out_of_stock"))
    assert (row["change"]["status"], row["change"]["reason"]) == ("refused", "line 3 (sku-3): out_of_stock")
    assert lines(row)[:2] == [("sku-1", 2, "reserved", None, None), ("sku-2", 1, "reserved", None, None)]
    assert row["totalCents"] == 4498
    # the added line that was reserved goes back at once; the old total is asked for again
    assert saga.new_effects(before, row) == [saga.Release(2), saga.RequestPayment(version=1)]


def test_the_old_payment_captured_first_wins_and_the_change_is_undone():
    row = started()
    paid = apply(row, "PaymentCompleted", payment_event("PaymentCompleted", version=0))
    assert (paid["status"], paid["paymentStatus"], paid["totalCents"]) == ("confirmed", "captured", 4498)
    assert (paid["change"]["status"], paid["change"]["reason"]) == ("refused", "payment_captured_first")
    assert saga.Sell(0) in saga.effects(paid) and saga.Sell(1) in saga.effects(paid)
    # the added lines, once their reservations come back, are given back
    later = apply(paid, "LineResult", line_result(paid, 2, "reserved"))
    assert saga.Release(2) in saga.new_effects(paid, later)


def test_an_old_requests_other_answers_are_ignored():
    decision = decide(started(), "PaymentFailed", payment_event("PaymentFailed", version=0))
    assert decision.row is None and "superseded" in (decision.ignored or "")


def test_a_paid_or_pending_order_cannot_change_and_the_refusal_is_recorded():
    paid = apply(awaiting_payment(), "PaymentCompleted", payment_event("PaymentCompleted"))
    refused = apply(paid, "ChangeOrder", change(("sku-1", 1)))
    assert refused["change"]["status"] == "refused" and "only an unpaid order" in refused["change"]["reason"]
    assert refused["items"] == paid["items"] and not saga.new_effects(paid, refused)


def test_a_replayed_change_changes_nothing_and_a_second_waits_its_turn():
    row = started()
    assert decide(row, "ChangeOrder", change(("sku-1", 3), ("sku-3", 4))).row is None
    second = decide(row, "ChangeOrder", change(("sku-2", 1), change_id="chg_2"))
    assert second.row is None and "still being made" in (second.ignored or "")


def test_the_same_items_again_change_nothing_to_pay():
    row = apply(awaiting_payment(), "ChangeOrder", change(("sku-2", 1), ("sku-1", 2)))
    assert (row["change"]["status"], row["paymentVersion"]) == ("applied", 0)
    assert not saga.new_effects(awaiting_payment(), row)


def test_the_payment_agent_drops_a_superseded_request_and_asks_afresh_for_the_new_one():
    order = started()
    old = {"orderId": "ord_1", "customerId": "cust_1", "amountCents": 4498, "currency": "EUR",
           "paymentMethodId": "pm_visa", "requestedAt": NOW, "version": 0}
    state = payments.new_payment(old)
    assert payments.next_step(state, "RequestPayment", old, NOW, 60_000, order) == payments.SUPERSEDED
    authorized = payments.after_authorize(state, "txn_old")
    assert payments.next_step(authorized, "RequestPayment", old, NOW, 60_000, order) == payments.SUPERSEDED
    new = {**old, "amountCents": 6997, "version": 1}
    fresh = payments.for_request(authorized, new)
    assert (fresh["status"], fresh["amountCents"], fresh["version"], fresh["transactionId"]) == (
        "none", 6997, 1, None)
    assert payments.next_step(fresh, "RequestPayment", new, NOW, 60_000, order) == payments.AUTHORIZE
    # what was captured stays: the newer request is answered with it
    captured = payments.after_capture(authorized)
    assert payments.for_request(captured, new) is captured
    assert payments.next_step(captured, "RequestPayment", new, NOW, 60_000, order) == payments.RESEND
    _, event = payments.event_for(payments.after_capture(payments.after_authorize(fresh, "txn_new")), NOW)
    assert (event["eventId"], event["data"]["version"]) == ("evt_pay_ord_1_v1_captured", 1)
