"""tables.shipments and the saga's side of a shipment: moves, events and a
confirmed order's cancel decided by the delivery service, on plain dicts."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from support.samples import SAMPLES

from orderflow.schemas.codec import Codec
from orderflow.tables import orders as saga
from orderflow.tables import shipments as logic

CODEC = Codec()
NOW = 1_700_000_000_000
TIMEOUT_MS = 900_000


def confirmed() -> Any:
    """A confirmed, paid order (the codec's sample row)."""
    return copy.deepcopy(SAMPLES["orderflow.v1.OrderState"])


def cancel_order(reason: str = "customer_request") -> dict[str, Any]:
    return {"orderId": "ord_1", "reason": reason, "requestedAt": NOW}


def shipment_event(kind: str) -> dict[str, Any]:
    return copy.deepcopy(SAMPLES[f"orderflow.v1.{kind}"])
BOOKING = {"shipmentId": "sim_1", "carrier": "SimPost", "trackingNumber": "SP1", "status": "label_created",
           "estimatedDelivery": "2026-12-08"}


def booked() -> Any:
    return logic.booked(logic.new_shipment("ord_1", NOW), BOOKING, NOW + 1)


def kinds(events: list[Any]) -> list[str]:
    return [kind for kind, _ in events]


def test_a_booking_records_the_carrier_and_publishes_nothing_yet() -> None:
    row = booked()
    assert (row["status"], row["carrier"], row["trackingNumber"], row["shipmentId"]) == (
        "label_created", "SimPost", "SP1", "shp_ord_1")
    assert [h["status"] for h in row["history"]] == ["processing", "label_created"]
    assert logic.events_of(row) == []
    CODEC.encode("orderflow.v1.ShipmentState", row)  # a row the table can store


def test_pickup_publishes_shipped_once_and_delivery_publishes_delivered() -> None:
    row = booked()
    picked = logic.progressed(row, "picked_up", NOW + 5, "carrier").row
    assert picked is not None and kinds(logic.new_events(row, picked)) == ["Shipped"]
    shipped = logic.new_events(row, picked)[0][1]
    assert shipped["data"]["estimatedDelivery"] == "2026-12-08" and shipped["eventId"] == "evt_shp_ord_1_Shipped"
    transit = logic.progressed(picked, "in_transit", NOW + 6, "carrier").row
    assert transit is not None and logic.new_events(picked, transit) == []
    done = logic.progressed(transit, "delivered", NOW + 7, "carrier").row
    assert done is not None and kinds(logic.new_events(transit, done)) == ["Delivered"]
    assert kinds(logic.events_of(done)) == ["Shipped", "Delivered"]  # what a replay re-sends


def test_a_late_or_repeated_report_changes_nothing_and_a_skipped_one_publishes_both() -> None:
    row = logic.progressed(booked(), "in_transit", NOW + 5, "carrier").row
    assert row is not None
    assert logic.progressed(row, "picked_up", NOW + 6, "carrier") == logic.Move()
    assert logic.progressed(row, "in_transit", NOW + 6, "carrier") == logic.Move()
    straight = logic.progressed(booked(), "delivered", NOW + 5, "carrier").row
    assert straight is not None and kinds(logic.new_events(booked(), straight)) == ["Shipped", "Delivered"]


def test_only_a_parcel_not_yet_picked_up_can_be_cancelled_and_a_cancelled_one_never_moves() -> None:
    stopped = logic.cancelled(booked(), "changed_mind", NOW + 5).row
    assert stopped is not None and stopped["cancelReason"] == "changed_mind"
    assert kinds(logic.events_of(stopped)) == ["ShipmentCancelled"]
    assert logic.progressed(stopped, "picked_up", NOW + 6, "carrier").refused
    picked = logic.progressed(booked(), "picked_up", NOW + 5, "carrier").row
    assert picked is not None and logic.cancelled(picked, "late", NOW + 6).refused


@pytest.mark.parametrize(("status", "wanted", "ok"), [
    ("label_created", "shipped", True), ("label_created", "delivered", False),
    ("picked_up", "delivered", True), ("in_transit", "delivered", True), ("label_created", "lost", False)])
def test_an_operator_corrects_one_step_at_a_time(status: str, wanted: str, ok: bool) -> None:
    row = booked() if status == "label_created" else logic.progressed(booked(), status, NOW + 2, "carrier").row
    assert row is not None
    move = logic.corrected(row, wanted, NOW + 3)
    assert (move.row is not None) is ok and (move.refused is None) is ok
    if ok:
        assert move.row is not None and move.row["history"][-1]["source"] == "operator"


def test_shipment_ids_map_back_to_their_order() -> None:
    assert logic.order_id_of(logic.shipment_id_of("ord_9")) == "ord_9"
    assert logic.order_id_of("sim_1") is None and logic.order_id_of("shp_") is None


# --- the saga's side ---------------------------------------------------------------------

def carrier_ctx(cause: str) -> saga.Context:
    return saga.Context(now_ms=NOW + 100, cause=cause, payment_timeout_ms=TIMEOUT_MS, carrier_cancels=True)


def test_a_confirmed_order_asks_to_be_shipped() -> None:
    row = confirmed()
    assert saga.ShipOrder() in saga.effects(row)
    command = saga.ShipOrder().command(row, NOW)
    assert (command.kind, command.key) == ("ShipOrder", row["orderId"])
    CODEC.encode("orderflow.v1.ShipOrder", command.record)


def test_with_a_delivery_service_a_confirmed_cancel_waits_for_the_shipment_to_be_stopped() -> None:
    row = confirmed()
    asked = saga.decide(row, "CancelOrder", cancel_order("changed_mind"), carrier_ctx("orders.commands/0/90")).row
    assert asked is not None and asked["status"] == "confirmed" and asked["cancelRequested"] == "changed_mind"
    assert saga.new_effects(row, asked) == [saga.StopShipment()]
    assert saga.new_events(row, asked) == []
    again = saga.decide(asked, "CancelOrder", cancel_order(), carrier_ctx("orders.commands/0/91"))
    assert again == saga.Decision()  # asked once
    stopped = {"data": {"orderId": row["orderId"], "shipmentId": "shp_ord_1", "carrier": "SimPost",
                        "reason": "changed_mind"}}
    done = saga.decide(asked, "ShipmentCancelled", stopped, carrier_ctx("shipments.events/0/5")).row
    assert done is not None and done["status"] == "cancelled" and done["cancelRequested"] is None
    assert {type(e) for e in saga.new_effects(asked, done)} == {saga.Release, saga.Refund}


def test_a_pickup_wins_over_a_cancel_still_waiting() -> None:
    asked = saga.decide(confirmed(), "CancelOrder", cancel_order(), carrier_ctx("orders.commands/0/92")).row
    assert asked is not None
    shipped = saga.decide(asked, "Shipped", shipment_event("Shipped"), carrier_ctx("shipments.events/0/6")).row
    assert shipped is not None and shipped["status"] == "shipped" and shipped["cancelRequested"] is None
    assert shipped["history"][-1]["reason"] == "picked_up_before_cancel"
    assert saga.Refund() not in saga.effects(shipped) and saga.StopShipment() not in saga.effects(shipped)


def test_without_a_delivery_service_a_confirmed_order_is_cancelled_at_once() -> None:
    row = saga.decide(confirmed(), "CancelOrder", cancel_order(),
                      saga.Context(now_ms=NOW, cause="orders.commands/0/93", payment_timeout_ms=TIMEOUT_MS)).row
    assert row is not None and row["status"] == "cancelled"


def _ended(status: str, payment: str) -> Any:
    row = confirmed()
    row["status"], row["paymentStatus"] = status, payment
    return row


@pytest.mark.parametrize(("status", "payment", "owed"), [
    ("cancelled", "refunded", ["return_goods", "reverse_refund"]),
    ("rejected", "none", ["return_goods", "collect_payment"]),
    ("payment_failed", "failed", ["return_goods", "collect_payment"]),
])
def test_goods_leaving_an_ended_order_are_recorded_with_their_compensation(status: str, payment: str,
                                                                           owed: list[str]) -> None:
    row = _ended(status, payment)
    decision = saga.decide(row, "Shipped", shipment_event("Shipped"), carrier_ctx("shipments.events/0/7"))
    assert decision.contradiction == "Shipped" and decision.ignored is None
    new = decision.row
    assert new is not None and (new["status"], new["paymentStatus"]) == (status, payment)  # nothing undone twice
    assert [(c["fact"], c["orderStatus"], c["compensation"]) for c in new["contradictions"]] == [
        ("Shipped", status, owed)]
    assert saga.new_effects(row, new) == [] and saga.new_events(row, new) == []
    CODEC.encode("orderflow.v1.OrderState", new)
    # the same fact again (a replay, or the sender's retry) is recorded once; Delivered is its own fact
    again = saga.decide(new, "Shipped", shipment_event("Shipped"), carrier_ctx("shipments.events/0/8"))
    assert again == saga.Decision()
    later = saga.decide(new, "Delivered", shipment_event("Delivered"), carrier_ctx("shipments.events/0/9")).row
    assert later is not None and [c["fact"] for c in later["contradictions"]] == ["Shipped", "Delivered"]
