"""tables.orders: the order saga, message by message, on plain dicts."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec
from orderflow.tables import order_status as st
from orderflow.tables import orders as saga

CODEC = Codec()
NOW = 1_700_000_000_000
TIMEOUT_MS = 15 * 60 * 1000
PRICES = {"sku-1": 1999, "sku-2": 500, "sku-3": 250}
TOPICS = {"PlaceOrder": "orders.commands", "CancelOrder": "orders.commands", "ChangeOrder": "orders.commands",
          "ExpireOrder": "orders.timeouts",
          "LineResult": "stock.results", "CustomerCheckResult": "customers.check-results",
          "PaymentAuthorized": "payments.events",
          "PaymentCompleted": "payments.events", "PaymentFailed": "payments.events",
          "PaymentRefunded": "payments.events", "Shipped": "shipments.events", "Delivered": "shipments.events"}
OFFSETS = itertools.count(1)

Row = dict[str, Any]


# --- messages --------------------------------------------------------------------------

def place_order(order_id: str = "ord_1", **changes: Any) -> dict[str, Any]:
    return {"orderId": order_id, "customerId": "cust_1",
            "items": [{"productId": "sku-1", "quantity": 2, "priceCents": 1999},
                      {"productId": "sku-2", "quantity": 1, "priceCents": None}],
            "shippingAddress": {"street": "1 Main St", "city": "Springfield", "state": "IL",
                                "zipCode": "62701", "country": "US"},
            "paymentMethodId": "pm_visa", "currency": "EUR", "placedAt": NOW - 5, "idempotencyKey": None,
            **changes}


def line_result(row: Row, line: int, outcome: str, reason: str | None = None) -> dict[str, Any]:
    item = row["items"][line]
    return {"orderId": row["orderId"], "line": line, "productId": item["productId"], "quantity": item["quantity"],
            "outcome": outcome, "unitPriceCents": PRICES[item["productId"]] if outcome != "rejected" else None,
            "reason": reason}


def payment_event(kind: str, order_id: str = "ord_1", **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"paymentId": "pay_1", "orderId": order_id, "amountCents": 4498, "currency": "EUR"}
    if kind == "PaymentRefunded":
        body.update(refundId="ref_1", reason="order_cancelled")
    elif kind == "PaymentFailed":
        body.update(customerId="cust_1", errorCode="card_declined", errorMessage="insufficient funds")
    else:
        body.update(customerId="cust_1", status="authorized" if kind == "PaymentAuthorized" else "captured")
    body.update(data)
    return {"eventId": f"evt_{kind}_{order_id}", "eventType": kind, "timestamp": "2023-11-14T22:13:20.000Z",
            "version": "1.0", "data": body}


def shipment_event(kind: str, order_id: str = "ord_1") -> dict[str, Any]:
    return {"eventId": f"evt_{kind}_{order_id}", "eventType": kind, "timestamp": "2023-11-14T22:13:20.000Z",
            "version": "1.0",
            "data": {"orderId": order_id, "shipmentId": "shp_1", "carrier": "UPS", "trackingNumber": "1Z"}}


def cancel_order(reason: str | None = None) -> dict[str, Any]:
    return {"orderId": "ord_1", "reason": reason, "requestedAt": NOW}


def expire_order(row: Row) -> dict[str, Any]:
    return {"orderId": row["orderId"], "deadline": saga.payment_deadline(row, TIMEOUT_MS) or 0}


# --- driving the saga ------------------------------------------------------------------

def ctx(cause: str, now: int = NOW) -> saga.Context:
    return saga.Context(now_ms=now, cause=cause, payment_timeout_ms=TIMEOUT_MS)


def cause_of(kind: str) -> str:
    return f"{TOPICS[kind]}/0/{next(OFFSETS)}"


def decide(row: Row | None, kind: str, msg: dict[str, Any], *, now: int = NOW,
           cause: str | None = None) -> saga.Decision:
    return saga.decide(row, kind, msg, ctx(cause or cause_of(kind), now))


def apply(row: Row | None, kind: str, msg: dict[str, Any], *, now: int = NOW, cause: str | None = None) -> Row:
    """The row after a message that must change it."""
    decision = decide(row, kind, msg, now=now, cause=cause)
    assert decision.ignored is None, decision.ignored
    assert decision.row is not None, f"{kind} changed nothing"
    return decision.row


def placed(**changes: Any) -> Row:
    return apply(None, "PlaceOrder", place_order(**changes))


def with_lines(row: Row, *outcomes: tuple[int, str] | tuple[int, str, str]) -> Row:
    for line, outcome, *reason in outcomes:
        row = apply(row, "LineResult", line_result(row, line, outcome, *reason))
    return row


def checked(row: Row, passed: bool = True, reason: str | None = None) -> Row:
    return apply(row, "CustomerCheckResult", {"orderId": row["orderId"], "customerId": row["customerId"],
                                              "passed": passed, "reason": reason})


def awaiting_payment() -> Row:
    return checked(with_lines(placed(), (0, "reserved"), (1, "reserved")))


def confirmed() -> Row:
    return apply(awaiting_payment(), "PaymentCompleted", payment_event("PaymentCompleted"))


def shipped() -> Row:
    return apply(confirmed(), "Shipped", shipment_event("Shipped"))


def delivered() -> Row:
    return apply(shipped(), "Delivered", shipment_event("Delivered"))


def cancelled_while_awaiting_payment() -> Row:
    return apply(awaiting_payment(), "CancelOrder", cancel_order())


def statuses(row: Row) -> list[str]:
    return [entry["status"] for entry in row["history"]]


def all_events(row: Row) -> list[saga.Event]:
    return [event for i in range(len(row["history"])) for event in saga.events_at(row, i)]


# --- PlaceOrder ------------------------------------------------------------------------

def test_place_order_creates_a_pending_row_with_one_history_entry():
    cause = "orders.commands/3/17"
    row = apply(None, "PlaceOrder", place_order(), cause=cause)
    assert (row["orderId"], row["customerId"], row["status"]) == ("ord_1", "cust_1", "pending")
    assert row["history"] == [{"status": "pending", "at": NOW - 5, "reason": None, "cause": cause}]
    assert row["createdAt"] == row["updatedAt"] == NOW - 5
    assert (row["revision"], row["paymentStatus"], row["shippingStatus"]) == (1, "none", "none")
    assert (row["currency"], row["paymentMethodId"], row["totalCents"]) == ("EUR", "pm_visa", None)


def test_place_order_copies_lines_with_requested_prices_and_no_unit_prices_yet():
    row = placed()
    assert [(i["productId"], i["quantity"], i["requestedPriceCents"], i["unitPriceCents"], i["status"])
            for i in row["items"]] == [("sku-1", 2, 1999, None, "pending"), ("sku-2", 1, None, None, "pending")]


def test_place_order_without_placed_at_is_stamped_with_now():
    row = apply(None, "PlaceOrder", place_order(placedAt=0), now=NOW + 42)
    assert row["createdAt"] == row["history"][0]["at"] == NOW + 42


def test_place_order_does_not_share_the_commands_address():
    command = place_order()
    row = apply(None, "PlaceOrder", command)
    command["shippingAddress"]["city"] = "Elsewhere"
    assert row["shippingAddress"]["city"] == "Springfield"


def test_place_order_calls_for_a_reservation_of_every_line():
    row = placed()
    assert saga.effects(row) == {saga.Reserve(0), saga.Reserve(1)}
    assert saga.new_effects(None, row) == [saga.Reserve(0), saga.Reserve(1)]


def test_duplicate_place_order_changes_nothing_even_with_other_content():
    row = placed()
    other = place_order(items=[{"productId": "sku-3", "quantity": 9, "priceCents": 1}], customerId="cust_2")
    assert decide(row, "PlaceOrder", other) == saga.UNCHANGED
    assert decide(row, "PlaceOrder", place_order()) == saga.UNCHANGED


# --- LineResult ------------------------------------------------------------------------

def test_reserved_line_takes_its_unit_price_and_the_order_waits_for_the_other_lines():
    row = with_lines(placed(), (0, "reserved"))
    assert row["status"] == "pending"
    assert (row["items"][0]["status"], row["items"][0]["unitPriceCents"]) == ("reserved", 1999)
    assert row["items"][1]["status"] == "pending"
    assert saga.effects(row) == {saga.Reserve(1)}
    assert row["revision"] == 2 and len(row["history"]) == 1


def test_rejected_line_records_its_reason_and_the_order_waits_for_the_other_lines():
    row = with_lines(placed(), (1, "rejected", "out_of_stock"))
    assert (row["items"][1]["status"], row["items"][1]["reason"]) == ("rejected", "out_of_stock")
    assert row["status"] == "pending"
    assert saga.effects(row) == {saga.Reserve(0)}


def test_all_lines_reserved_asks_for_the_customer_check_with_the_total():
    before = with_lines(placed(), (1, "reserved"))
    row = with_lines(before, (0, "reserved"))
    assert row["status"] == "pending" and row["customerCheck"] == "pending"
    assert row["totalCents"] == 2 * 1999 + 1 * 500
    assert saga.new_effects(before, row) == [saga.CheckCustomer()]


def test_passed_customer_check_awaits_payment_and_requests_it():
    before = with_lines(placed(), (0, "reserved"), (1, "reserved"))
    row = checked(before)
    assert row["status"] == "pending_payment"
    assert row["paymentStatus"] == "pending"
    assert (row["history"][-1]["status"], row["history"][-1]["reason"]) == ("pending_payment", "validated")
    assert saga.effects(row) == {saga.RequestPayment()}
    assert saga.new_effects(before, row) == [saga.RequestPayment()]


def test_any_rejected_line_rejects_the_order_with_the_reason_of_the_first_rejected_line():
    row = placed(items=[{"productId": p, "quantity": 1, "priceCents": None} for p in ("sku-1", "sku-2", "sku-3")])
    row = with_lines(row, (2, "rejected", "price_changed"), (0, "reserved"), (1, "rejected", "out_of_stock"))
    assert row["status"] == "rejected"
    assert row["history"][-1]["reason"] == "out_of_stock"
    assert row["totalCents"] is None and row["paymentStatus"] == "none"


def test_rejected_order_releases_its_reserved_lines_and_only_those():
    row = with_lines(placed(), (0, "reserved"))
    before = row
    row = with_lines(row, (1, "rejected", "out_of_stock"))
    assert saga.effects(row) == {saga.Release(0)}
    assert saga.new_effects(before, row) == [saga.Release(0)]


def test_order_with_every_line_rejected_releases_nothing():
    row = with_lines(placed(), (0, "rejected", "out_of_stock"), (1, "rejected", "unknown_product"))
    assert row["status"] == "rejected"
    assert row["history"][-1]["reason"] == "out_of_stock"
    assert saga.effects(row) == frozenset()


def test_released_results_end_the_release_effects_of_a_rejected_order():
    row = with_lines(placed(), (0, "reserved"), (1, "rejected", "out_of_stock"), (0, "released"))
    assert row["items"][0]["status"] == "released"
    assert saga.effects(row) == frozenset()


def test_repeated_line_result_is_unchanged():
    row = with_lines(placed(), (0, "reserved"))
    assert decide(row, "LineResult", line_result(row, 0, "reserved")) == saga.UNCHANGED


def test_line_result_going_backwards_is_ignored():
    row = with_lines(placed(), (0, "reserved"))
    decision = decide(row, "LineResult", line_result(row, 0, "rejected", "out_of_stock"))
    assert decision.row is None and decision.ignored


@pytest.mark.parametrize("change", [{"line": 2}, {"line": -1}, {"productId": "sku-9"}],
                         ids=["line past the end", "negative line", "other product"])
def test_line_result_for_a_line_not_in_the_order_is_ignored(change):
    row = placed()
    decision = decide(row, "LineResult", {**line_result(row, 0, "reserved"), **change})
    assert decision.row is None and decision.ignored


# --- payment ---------------------------------------------------------------------------

def test_payment_completed_confirms_the_order_and_sells_every_line():
    before = awaiting_payment()
    row = apply(before, "PaymentCompleted", payment_event("PaymentCompleted"))
    assert (row["status"], row["paymentStatus"], row["paymentId"]) == ("confirmed", "captured", "pay_1")
    assert row["history"][-1]["reason"] == "payment_successful"
    assert [line["status"] for line in row["items"]] == ["sold", "sold"]  # as their sells go out
    # a replay sends the sells again (the stock agent applies each once)
    assert saga.effects(row) == {saga.Sell(0), saga.Sell(1), saga.ShipOrder()}
    assert saga.new_effects(before, row) == [saga.Sell(0), saga.Sell(1), saga.ShipOrder()]


def test_a_sold_result_from_before_sells_went_unanswered_changes_nothing():
    row = confirmed()
    for line in (0, 1):
        assert decide(row, "LineResult", line_result(row, line, "sold")).row is None
    shipped_row = apply(row, "Shipped", shipment_event("Shipped"))
    assert saga.new_effects(row, shipped_row) == []  # the sells went out once, with the confirmation


def test_payment_authorized_keeps_the_order_waiting_without_new_effects():
    before = awaiting_payment()
    row = apply(before, "PaymentAuthorized", payment_event("PaymentAuthorized"))
    assert (row["status"], row["paymentStatus"], row["paymentId"]) == ("pending_payment", "authorized", "pay_1")
    assert len(row["history"]) == len(before["history"])
    assert saga.new_effects(before, row) == []
    assert saga.effects(row) == {saga.RequestPayment()}, "a replay must still ask for the capture"


def test_payment_completed_after_authorization_confirms_the_order():
    row = apply(awaiting_payment(), "PaymentAuthorized", payment_event("PaymentAuthorized"))
    row = apply(row, "PaymentCompleted", payment_event("PaymentCompleted"))
    assert (row["status"], row["paymentStatus"]) == ("confirmed", "captured")


def test_payment_failed_fails_the_order_and_releases_every_line():
    before = awaiting_payment()
    row = apply(before, "PaymentFailed", payment_event("PaymentFailed"))
    assert (row["status"], row["paymentStatus"], row["paymentError"]) == ("payment_failed", "failed", "card_declined")
    assert row["history"][-1]["reason"] == "card_declined"
    assert saga.effects(row) == {saga.Release(0), saga.Release(1)}
    assert saga.new_effects(before, row) == [saga.Release(0), saga.Release(1)]


def test_payment_failed_because_the_request_expired_cancels_for_payment_timeout():
    before = awaiting_payment()
    row = apply(before, "PaymentFailed", payment_event("PaymentFailed", errorCode=saga.EXPIRED))
    assert (row["status"], row["paymentStatus"]) == ("cancelled", "failed")
    assert row["history"][-1]["reason"] == "payment_timeout"
    assert saga.effects(row) == {saga.Release(0), saga.Release(1)}
    assert [kind for kind, _ in saga.new_events(before, row)] == ["OrderStatusChanged", "OrderCancelled"]


def test_expired_payment_of_an_order_already_cancelled_changes_only_the_payment():
    before = cancelled_while_awaiting_payment()
    row = apply(before, "PaymentFailed", payment_event("PaymentFailed", errorCode=saga.EXPIRED))
    assert (row["status"], row["paymentStatus"]) == ("cancelled", "failed")
    assert row["history"] == before["history"]


def test_payment_completed_for_a_cancelled_order_asks_for_a_refund():
    before = cancelled_while_awaiting_payment()
    row = apply(before, "PaymentCompleted", payment_event("PaymentCompleted"))
    assert (row["status"], row["paymentStatus"]) == ("cancelled", "captured")
    assert saga.new_effects(before, row) == [saga.Refund()]


def test_payment_refunded_ends_the_refund_effect():
    row = apply(cancelled_while_awaiting_payment(), "PaymentCompleted", payment_event("PaymentCompleted"))
    row = apply(row, "PaymentRefunded", payment_event("PaymentRefunded"))
    assert (row["status"], row["paymentStatus"]) == ("cancelled", "refunded")
    assert saga.Refund() not in saga.effects(row)
    row = with_lines(row, (0, "released"), (1, "released"))
    assert saga.effects(row) == frozenset()


def test_payment_event_before_payment_was_requested_is_ignored():
    decision = decide(placed(), "PaymentCompleted", payment_event("PaymentCompleted"))
    assert decision.row is None and decision.ignored


def test_repeated_payment_completed_is_unchanged():
    assert decide(confirmed(), "PaymentCompleted", payment_event("PaymentCompleted")) == saga.UNCHANGED


def test_payment_failed_after_capture_is_ignored():
    decision = decide(confirmed(), "PaymentFailed", payment_event("PaymentFailed"))
    assert decision.row is None and decision.ignored


# --- shipment --------------------------------------------------------------------------

def test_shipped_then_delivered():
    row = shipped()
    assert (row["status"], row["shippingStatus"]) == ("shipped", "shipped")
    row = apply(row, "Delivered", shipment_event("Delivered"))
    assert (row["status"], row["shippingStatus"]) == ("delivered", "delivered")
    assert statuses(row) == ["pending", "pending_payment", "confirmed", "shipped", "delivered"]


def test_delivered_before_shipped_is_ignored():
    decision = decide(confirmed(), "Delivered", shipment_event("Delivered"))
    assert decision.row is None
    assert decision.ignored == "order confirmed -> delivered"


def test_shipped_before_payment_is_ignored():
    decision = decide(awaiting_payment(), "Shipped", shipment_event("Shipped"))
    assert decision.row is None and decision.ignored


def test_repeated_shipped_is_unchanged():
    assert decide(shipped(), "Shipped", shipment_event("Shipped")) == saga.UNCHANGED


# --- cancellation ----------------------------------------------------------------------

@pytest.mark.parametrize("build", [placed, awaiting_payment, confirmed], ids=lambda b: b.__name__)
def test_cancel_order_from_a_cancellable_status_cancels_for_customer_request(build: Callable[[], Row]):
    before = build()
    row = apply(before, "CancelOrder", cancel_order())
    assert row["status"] == "cancelled"
    assert row["history"][-1] == {"status": "cancelled", "at": NOW, "reason": "customer_request",
                                  "cause": row["history"][-1]["cause"]}
    assert statuses(row) == [*statuses(before), "cancelled"]
    assert row["revision"] == before["revision"] + 1


def test_cancel_order_keeps_the_reason_it_was_given():
    row = apply(placed(), "CancelOrder", cancel_order("changed_my_mind"))
    assert row["history"][-1]["reason"] == "changed_my_mind"


def test_cancel_while_pending_releases_the_reserved_lines_only():
    row = apply(with_lines(placed(), (0, "reserved")), "CancelOrder", cancel_order())
    assert saga.effects(row) == {saga.Release(0)}


def test_line_reserved_after_cancellation_is_released():
    before = apply(placed(), "CancelOrder", cancel_order())
    assert saga.effects(before) == frozenset()
    row = with_lines(before, (1, "reserved"))
    assert row["status"] == "cancelled"
    assert saga.new_effects(before, row) == [saga.Release(1)]


def test_cancel_while_awaiting_payment_releases_every_line():
    row = cancelled_while_awaiting_payment()
    assert saga.effects(row) == {saga.Release(0), saga.Release(1)}


def test_cancel_of_a_confirmed_order_refunds_and_gives_back_every_line_sold_or_not():
    row = apply(confirmed(), "CancelOrder", cancel_order())
    assert saga.effects(row) == {saga.Release(0), saga.Release(1), saga.Refund()}


def test_released_results_end_the_release_of_a_cancelled_confirmed_order():
    row = apply(confirmed(), "CancelOrder", cancel_order())
    row = with_lines(row, (0, "released"), (1, "released"))
    assert [line["status"] for line in row["items"]] == ["released", "released"]
    assert saga.effects(row) == {saga.Refund()}


def test_sold_line_of_a_confirmed_order_is_not_released():
    row = confirmed()
    assert saga.Release(0) not in saga.effects(row)


@pytest.mark.parametrize("build", [shipped, delivered], ids=lambda b: b.__name__)
def test_cancel_order_after_shipping_is_ignored(build: Callable[[], Row]):
    decision = decide(build(), "CancelOrder", cancel_order())
    assert decision.row is None and decision.ignored


def test_repeated_cancel_order_is_unchanged():
    assert decide(cancelled_while_awaiting_payment(), "CancelOrder", cancel_order()) == saga.UNCHANGED


def test_cancel_order_of_a_rejected_order_is_ignored():
    row = with_lines(placed(), (0, "rejected", "out_of_stock"), (1, "reserved"))
    decision = decide(row, "CancelOrder", cancel_order())
    assert decision.row is None and decision.ignored


# --- payment timeout -------------------------------------------------------------------

def test_payment_deadline_is_the_timeout_after_the_order_began_to_await_payment():
    assert saga.payment_deadline(awaiting_payment(), TIMEOUT_MS) == NOW + TIMEOUT_MS
    assert saga.payment_deadline(placed(), TIMEOUT_MS) is None
    assert saga.payment_deadline(confirmed(), TIMEOUT_MS) is None


def test_expire_order_before_the_deadline_is_unchanged():
    row = awaiting_payment()
    assert decide(row, "ExpireOrder", expire_order(row), now=NOW + TIMEOUT_MS - 1) == saga.UNCHANGED


@pytest.mark.parametrize("late_ms", [0, 1, 10 * TIMEOUT_MS])
def test_expire_order_at_or_after_the_deadline_cancels_for_payment_timeout(late_ms):
    row = awaiting_payment()
    row = apply(row, "ExpireOrder", expire_order(row), now=NOW + TIMEOUT_MS + late_ms)
    assert row["status"] == "cancelled"
    assert row["history"][-1]["reason"] == "payment_timeout"
    assert saga.effects(row) == {saga.Release(0), saga.Release(1)}


@pytest.mark.parametrize("build", [placed, confirmed, cancelled_while_awaiting_payment], ids=lambda b: b.__name__)
def test_expire_order_of_an_order_not_awaiting_payment_is_unchanged(build: Callable[[], Row]):
    row = build()
    assert decide(row, "ExpireOrder", {"orderId": "ord_1", "deadline": NOW}, now=NOW + 10 * TIMEOUT_MS) \
        == saga.UNCHANGED


# --- unknown orders --------------------------------------------------------------------

@pytest.mark.parametrize("kind, msg", [
    ("CancelOrder", cancel_order()),
    ("ExpireOrder", {"orderId": "ord_1", "deadline": NOW}),
    ("LineResult", {"orderId": "ord_1", "line": 0, "productId": "sku-1", "quantity": 2, "outcome": "reserved",
                    "unitPriceCents": 1999, "reason": None}),
    ("PaymentCompleted", payment_event("PaymentCompleted")),
    ("PaymentFailed", payment_event("PaymentFailed")),
    ("Shipped", shipment_event("Shipped")),
    ("Delivered", shipment_event("Delivered")),
], ids=lambda v: v if isinstance(v, str) else "")
def test_message_for_an_unknown_order_is_ignored(kind, msg):
    decision = decide(None, kind, msg)
    assert decision.row is None
    assert decision.ignored == f"{kind} for an unknown order"


# --- events ----------------------------------------------------------------------------

def test_place_order_publishes_order_created_with_the_requested_prices():
    row = placed()
    [(kind, event)] = saga.new_events(None, row)
    assert kind == "OrderCreated"
    assert (event["eventId"], event["eventType"], event["version"]) == ("evt_ord_1_0", "OrderCreated", "1.0")
    assert event["timestamp"] == "2023-11-14T22:13:19.995Z"
    assert event["data"] == {
        "orderId": "ord_1", "customerId": "cust_1", "currency": "EUR", "status": "pending", "totalCents": None,
        "totalAmount": None,  # a line without a requested price: the total is not known yet
        "items": [{"productId": "sku-1", "quantity": 2, "priceCents": 1999, "price": 19.99},
                  {"productId": "sku-2", "quantity": 1, "priceCents": None, "price": None}]}


def test_status_change_publishes_order_status_changed_with_previous_new_and_reason():
    before = awaiting_payment()
    row = apply(before, "PaymentFailed", payment_event("PaymentFailed"))
    [(kind, event)] = saga.new_events(before, row)
    assert (kind, event["eventId"], event["eventType"]) == ("OrderStatusChanged", "evt_ord_1_2", "OrderStatusChanged")
    assert event["data"] == {"orderId": "ord_1", "previousStatus": "pending_payment",
                             "newStatus": "payment_failed", "reason": "card_declined"}


def test_change_without_a_new_status_publishes_no_event():
    before = placed()
    assert saga.new_events(before, with_lines(before, (0, "reserved"))) == []


def test_cancellation_also_publishes_order_cancelled_without_refund_when_nothing_was_paid():
    before = awaiting_payment()
    row = apply(before, "CancelOrder", cancel_order())
    assert [(kind, event["eventId"]) for kind, event in saga.new_events(before, row)] == [
        ("OrderStatusChanged", "evt_ord_1_2"), ("OrderCancelled", "evt_ord_1_2_cancelled")]
    cancelled = saga.new_events(before, row)[1][1]
    assert cancelled["data"] == {"orderId": "ord_1", "customerId": "cust_1", "reason": "customer_request",
                                 "refundAmountCents": 0, "refundAmount": 0.0}


def test_cancellation_of_a_paid_order_announces_the_refund_of_the_total():
    before = confirmed()
    row = apply(before, "CancelOrder", cancel_order())
    cancelled = saga.new_events(before, row)[-1][1]
    assert (cancelled["data"]["refundAmountCents"], cancelled["data"]["refundAmount"]) == (4498, 44.98)


def test_event_ids_are_deterministic_and_unique_per_order():
    row = apply(confirmed(), "CancelOrder", cancel_order())
    ids = [event["eventId"] for _, event in all_events(row)]
    assert len(ids) == len(set(ids)) == len(row["history"]) + 1
    assert [event["eventId"] for _, event in all_events(row)] == ids
    other = apply(None, "PlaceOrder", place_order("ord_2"))
    assert not {event["eventId"] for _, event in all_events(other)} & set(ids)


def test_new_events_are_the_events_of_the_history_entries_added():
    before = confirmed()
    row = apply(before, "CancelOrder", cancel_order())
    assert saga.new_events(before, row) == saga.events_at(row, len(before["history"]))
    assert saga.new_events(None, row) == all_events(row)


def test_events_caused_by_returns_exactly_the_events_of_the_entries_with_that_cause():
    row = apply(None, "PlaceOrder", place_order(), cause="orders.commands/0/1")
    row = apply(row, "LineResult", line_result(row, 0, "reserved"), cause="stock.results/0/1")
    row = apply(row, "LineResult", line_result(row, 1, "reserved"), cause="stock.results/0/2")
    row = apply(row, "CustomerCheckResult", {"orderId": "ord_1", "customerId": "cust_1", "passed": True,
                                             "reason": None}, cause="customers.check-results/0/1")
    row = apply(row, "CancelOrder", cancel_order(), cause="orders.commands/0/2")
    assert saga.events_caused_by(row, "orders.commands/0/1") == saga.events_at(row, 0)
    assert saga.events_caused_by(row, "stock.results/0/1") == []
    assert saga.events_caused_by(row, "stock.results/0/2") == []
    assert saga.events_caused_by(row, "customers.check-results/0/1") == saga.events_at(row, 1)
    assert [k for k, _ in saga.events_caused_by(row, "orders.commands/0/2")] == ["OrderStatusChanged",
                                                                                "OrderCancelled"]
    assert saga.events_caused_by(row, "orders.commands/0/99") == []


def test_summary_carries_the_list_fields_of_the_order():
    row = confirmed()
    assert saga.summary(row) == {"orderId": "ord_1", "customerId": "cust_1", "status": "confirmed",
                                 "totalCents": 4498, "currency": "EUR", "createdAt": NOW - 5,
                                 "updatedAt": NOW, "revision": row["revision"]}


# --- shapes stay in step with the .avsc files ------------------------------------------

def paid_then_cancelled() -> Row:
    return apply(confirmed(), "CancelOrder", cancel_order())


def refunded() -> Row:
    row = apply(cancelled_while_awaiting_payment(), "PaymentCompleted", payment_event("PaymentCompleted"))
    return apply(row, "PaymentRefunded", payment_event("PaymentRefunded"))


def payment_failed() -> Row:
    return apply(awaiting_payment(), "PaymentFailed", payment_event("PaymentFailed"))


def rejected() -> Row:
    return with_lines(placed(), (0, "reserved"), (1, "rejected", "out_of_stock"))


def expired() -> Row:
    row = awaiting_payment()
    return apply(row, "ExpireOrder", expire_order(row), now=NOW + TIMEOUT_MS)


def without_address() -> Row:
    return placed(shippingAddress=None)


LIFECYCLES = [placed, awaiting_payment, delivered, paid_then_cancelled, refunded, payment_failed, rejected, expired,
              without_address]


@pytest.mark.parametrize("build", LIFECYCLES, ids=lambda b: b.__name__)
def test_every_row_round_trips_through_the_order_state_schema(build: Callable[[], Row]):
    row = build()
    assert CODEC.decode(CODEC.encode(catalog.ORDERS_TABLE.value_schema, row)).record == row


@pytest.mark.parametrize("build", LIFECYCLES, ids=lambda b: b.__name__)
def test_every_event_round_trips_through_its_schema(build: Callable[[], Row]):
    for kind, event in all_events(build()):
        decoded = CODEC.decode(CODEC.encode(f"orderflow.v1.{kind}", event))
        assert (decoded.schema, decoded.record) == (f"orderflow.v1.{kind}", event)


@pytest.mark.parametrize("build", LIFECYCLES, ids=lambda b: b.__name__)
def test_every_summary_round_trips_through_the_order_summary_schema(build: Callable[[], Row]):
    summary = saga.summary(build())
    assert CODEC.decode(CODEC.encode("orderflow.v1.OrderSummary", summary)).record == summary


def test_the_messages_these_tests_feed_the_saga_match_their_schemas():
    row = awaiting_payment()
    samples = [("PlaceOrder", place_order()), ("CancelOrder", cancel_order()), ("ExpireOrder", expire_order(row)),
               ("LineResult", line_result(row, 0, "reserved")), ("Shipped", shipment_event("Shipped")),
               ("Delivered", shipment_event("Delivered"))]
    samples += [(k, payment_event(k)) for k in
                ("PaymentAuthorized", "PaymentCompleted", "PaymentFailed", "PaymentRefunded")]
    for kind, msg in samples:
        CODEC.encode(f"orderflow.v1.{kind}", msg)


def test_order_status_values_are_the_schema_symbols():
    schema = CODEC.schemas["orderflow.v1.OrderState"]
    [status_field] = [f for f in schema["fields"] if f["name"] == "status"]
    assert set(status_field["type"]["symbols"]) == set(st.ORDER_TRANSITIONS)


# --- found while testing: production behaviour in question ------------------------------

def test_place_order_without_lines_never_reaches_the_saga():
    # the agents dead-letter it first (tables.validation), so no order waits forever
    from orderflow.tables.validation import problems

    assert problems("PlaceOrder", place_order(items=[])) != []


def test_replayed_place_order_resends_order_created_as_first_published():
    first = apply(None, "PlaceOrder", place_order(), cause="orders.commands/0/1")
    original = saga.new_events(None, first)
    row = with_lines(first, (0, "reserved"), (1, "reserved"))
    assert saga.events_caused_by(row, "orders.commands/0/1") == original


# --- the commands the effects build -----------------------------------------------------

def test_each_effect_builds_its_command_keyed_for_its_consumer_and_valid_for_its_schema():
    row = awaiting_payment()
    expected = {
        saga.Reserve(0): ("ReserveLine", "sku-1", {"orderId": "ord_1", "line": 0, "productId": "sku-1",
                                                   "quantity": 2, "requestedPriceCents": 1999, "lineCount": 2}),
        saga.Release(1): ("ReleaseLine", "sku-2", {"orderId": "ord_1", "line": 1, "productId": "sku-2"}),
        saga.Sell(1): ("SellLine", "sku-2", {"orderId": "ord_1", "line": 1, "productId": "sku-2"}),
        saga.CheckCustomer(): ("CheckCustomer", "cust_1", {"orderId": "ord_1", "customerId": "cust_1",
                                                          "amountCents": row["totalCents"], "at": NOW - 5}),
        saga.RequestPayment(): ("RequestPayment", "ord_1", {
            "orderId": "ord_1", "customerId": "cust_1", "amountCents": row["totalCents"], "currency": "EUR",
            "paymentMethodId": "pm_visa", "requestedAt": row["history"][-1]["at"], "version": 0}),
        saga.Refund(): ("RefundPayment", "ord_1", {"orderId": "ord_1", "amountCents": row["totalCents"],
                                                   "currency": "EUR", "reason": "order_cancelled",
                                                   "requestedAt": NOW + 1}),
    }
    for effect, (kind, key, record) in expected.items():
        command = effect.command(row, NOW + 1)
        assert (command.kind, command.key, command.record) == (kind, key, record), effect
        written = CODEC.decode(CODEC.encode(f"{catalog.NAMESPACE}.{kind}", command.record)).record
        assert written == record, f"{kind} lost or changed a field on the wire"


def test_every_command_has_a_topic_that_may_carry_it():
    from orderflow.agents.orders import COMMAND_TOPICS

    row = awaiting_payment()
    for effect in (saga.Reserve(0), saga.Release(0), saga.Sell(0), saga.CheckCustomer(), saga.RequestPayment(),
                   saga.Refund()):
        kind = effect.command(row, NOW).kind
        assert f"{catalog.NAMESPACE}.{kind}" in COMMAND_TOPICS[kind].value_schemas


def test_effects_are_sent_in_one_order_by_name_then_line():
    found = {saga.Sell(1), saga.Release(0), saga.Refund(), saga.Sell(0), saga.CheckCustomer()}
    assert saga.in_order(found) == [saga.CheckCustomer(), saga.Refund(), saga.Release(0), saga.Sell(0), saga.Sell(1)]
