"""The fault suite's checker must be able to fail: a clean run passes, and the
same run with one defect planted (the failures the fault tests exist to catch)
fails, each in the count that names it. No Kafka: ``judge`` is a pure function
of what ``observe`` reads."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from support.chaos import OrderStream
from support.invariants import Run, judge

from orderflow.tables.order_status import CUSTOMER_FACING

Record = dict[str, Any]
INITIAL = {"prod_a": 10, "prod_b": 5}


class RunBuilder:
    """A consistent run in the shapes the HTTP API, the ledger and the topics have."""

    def __init__(self) -> None:
        self.orders: dict[str, Record] = {}
        self.events: list[tuple[str, Record]] = []
        self.notifications: list[tuple[str, Record]] = []
        self.payments: list[Record] = []

    def order(self, order_id: str, path: list[tuple[str, str | None]], lines: list[tuple[str, int, str]],
              payment: str = "none", captures: int = 0, refunds: int = 0) -> None:
        history = [{"status": "pending", "reason": None}] + [{"status": s, "reason": r} for s, r in path]
        self.orders[order_id] = {
            "orderId": order_id, "status": history[-1]["status"], "paymentStatus": payment,
            "items": [{"productId": p, "quantity": q, "status": st} for p, q, st in lines],
            "statusHistory": history}
        self.events.append((order_id, {"eventId": f"evt_{order_id}_0", "eventType": "OrderCreated",
                                       "data": {"orderId": order_id, "status": "pending"}}))
        for index in range(1, len(history)):
            status = history[index]["status"]
            self.events.append((order_id, {
                "eventId": f"evt_{order_id}_{index}", "eventType": "OrderStatusChanged",
                "data": {"orderId": order_id, "previousStatus": history[index - 1]["status"],
                         "newStatus": status, "reason": history[index]["reason"]}}))
            if status == "cancelled":
                self.events.append((order_id, {"eventId": f"evt_{order_id}_{index}_cancelled",
                                               "eventType": "OrderCancelled", "data": {"orderId": order_id}}))
            if status in CUSTOMER_FACING:
                self.notifications.append((order_id, {"notificationId": f"ntf_{order_id}_{status}",
                                                      "fields": {"orderId": order_id, "status": status}}))
        if payment != "none" or captures:
            self.payments.append({"orderId": order_id, "captures": captures, "refunds": refunds})

    def run(self, inventory: dict[str, tuple[int, int]], expected: int | None = None) -> Run:
        return Run(expected=len(self.orders) if expected is None else expected, order_ids=list(self.orders),
                   orders=copy.deepcopy(self.orders), initial_stock=dict(INITIAL),
                   inventory={p: {"productId": p, "onHand": h, "reserved": r, "available": h - r}
                              for p, (h, r) in inventory.items()},
                   ledger={"payments": copy.deepcopy(self.payments), "declines": []},
                   order_events=list(self.events), notifications=list(self.notifications))


PAID = [("pending_payment", "validated"), ("confirmed", "payment_successful")]


def clean_run() -> Run:
    """Confirmed, rejected for stock, declined, and cancelled-and-refunded orders;
    prod_a: 10 - 2 - 1 bought; prod_b: 5 - 3 bought."""
    b = RunBuilder()
    b.order("ord_1", PAID, [("prod_a", 2, "sold")], "captured", captures=1)
    b.order("ord_2", [("rejected", "out_of_stock")], [("prod_b", 9, "rejected"), ("prod_a", 1, "released")])
    b.order("ord_3", [("pending_payment", "validated"), ("payment_failed", "insufficient_funds")],
            [("prod_b", 1, "released")], "failed")
    b.order("ord_4", [*PAID, ("cancelled", "customer_request")], [("prod_a", 4, "released")], "refunded",
            captures=1, refunds=1)
    b.order("ord_5", PAID, [("prod_a", 1, "sold"), ("prod_b", 3, "sold")], "captured", captures=1)
    return b.run({"prod_a": (7, 0), "prod_b": (2, 0)})


def failures(run: Run) -> dict[str, int]:
    report = judge(run)
    return {name: getattr(report, name) for name in report.FAILURES if getattr(report, name)}


def test_a_clean_run_passes_and_counts_its_stock_rejections() -> None:
    report = judge(clean_run())
    assert report.ok(), report.problems
    assert (report.checked, report.rejected_for["out_of_stock"]) == (5, 1)


def test_a_dropped_sell_line_fails_though_order_and_stock_agree() -> None:
    run = clean_run()
    run.orders["ord_1"]["items"][0]["status"] = "reserved"  # the SellLine never applied:
    run.inventory["prod_a"].update(onHand=9, reserved=2, available=7)  # both tables still say reserved
    assert failures(run) == {"stock_mismatches": 2}


def test_a_sell_lost_at_the_stock_agent_fails_though_the_order_says_sold() -> None:
    run = clean_run()  # the saga marks a paid order's lines sold as it sends their SellLine
    run.inventory["prod_a"].update(onHand=9, reserved=2, available=7)  # the stock agent never applied one
    assert failures(run) == {"stock_mismatches": 1}


def test_a_dropped_release_line_fails_though_order_and_stock_agree() -> None:
    run = clean_run()
    run.orders["ord_2"]["items"][1]["status"] = "reserved"
    run.inventory["prod_a"].update(reserved=1, available=6)
    assert failures(run) == {"stock_mismatches": 2}


def test_stock_sold_past_what_there_was_is_oversold() -> None:
    run = clean_run()
    run.orders["ord_5"]["items"][1]["quantity"] = 6  # paid orders bought 9 of prod_b's 5
    run.inventory["prod_b"].update(onHand=-1, available=-1)
    assert failures(run)["oversold"] == 1


def test_a_confirmed_order_without_a_capture_fails() -> None:
    run = clean_run()
    run.ledger["payments"][0]["captures"] = 0
    assert failures(run) == {"missing": 1}


def test_a_second_capture_fails() -> None:
    run = clean_run()
    run.ledger["payments"][0]["captures"] = 2
    assert failures(run) == {"doubled": 1}


def test_a_refund_only_in_the_order_row_fails() -> None:
    run = clean_run()
    refund = next(p for p in run.ledger["payments"] if p["orderId"] == "ord_4")
    refund["refunds"] = 0  # the order says refunded; the provider never paid it back
    assert run.orders["ord_4"]["paymentStatus"] == "refunded"
    assert failures(run) == {"missing": 1}


def test_a_refund_of_a_kept_order_fails() -> None:
    run = clean_run()
    run.ledger["payments"][0]["refunds"] = 1
    assert failures(run) == {"spurious": 1}


def test_a_missing_notification_fails() -> None:
    run = clean_run()
    run.notifications = [n for n in run.notifications if n[1]["fields"] != {"orderId": "ord_4", "status": "cancelled"}]
    assert failures(run) == {"missing": 1}


def test_a_notification_for_a_status_never_reached_fails() -> None:
    run = clean_run()
    run.notifications.append(("ord_2", {"notificationId": "ntf_x", "fields": {"orderId": "ord_2",
                                                                             "status": "confirmed"}}))
    assert failures(run) == {"spurious": 1}


def test_a_second_notification_for_one_transition_fails() -> None:
    run = clean_run()
    run.notifications.append(("ord_1", {"notificationId": "ntf_again", "fields": {"orderId": "ord_1",
                                                                                 "status": "confirmed"}}))
    assert failures(run) == {"doubled": 1}


def test_notifications_follow_the_events_topic_not_the_order_row() -> None:
    run = clean_run()
    # the order row forgot a transition the events topic announced (and was notified of): still clean
    run.orders["ord_4"]["statusHistory"] = [h for h in run.orders["ord_4"]["statusHistory"]
                                            if h["status"] != "confirmed"]
    assert failures(run) == {}
    # the events topic lost it: its notification is now for a status the order never reached
    run.order_events = [e for e in run.order_events
                        if not (e[0] == "ord_1" and e[1]["data"].get("newStatus") == "confirmed")]
    assert failures(run) == {"illegal_sequences": 1, "spurious": 1}


def test_a_cancelled_order_without_its_order_cancelled_event_fails() -> None:
    run = clean_run()
    run.order_events = [e for e in run.order_events if e[1]["eventType"] != "OrderCancelled"]
    assert failures(run) == {"missing": 1}


def test_an_order_cancelled_event_of_an_order_not_cancelled_fails() -> None:
    run = clean_run()
    run.order_events.append(("ord_1", {"eventId": "evt_stray", "eventType": "OrderCancelled",
                                       "data": {"orderId": "ord_1"}}))
    assert failures(run) == {"illegal_sequences": 1}


def test_a_re_sent_event_is_allowed_and_counted() -> None:
    run = clean_run()
    run.order_events.append(run.order_events[1])
    report = judge(run)
    assert report.ok() and report.resent_events == 1


def test_a_short_stream_fails() -> None:
    run = clean_run()
    run.expected = 6  # the load was asked for six and sent five
    assert failures(run) == {"unsent": 1}


def test_a_lost_order_fails() -> None:
    run = clean_run()
    run.orders["ord_3"] = None
    assert failures(run)["lost"] == 1


def test_an_unsettled_order_is_stuck() -> None:
    run = clean_run()
    run.orders["ord_3"]["status"] = "pending_payment"
    assert failures(run)["stuck"] == 1


class NoBroker:
    class settings:  # noqa: N801 - stands in for a DevStack's settings attribute
        kafka_servers = "127.0.0.1:9"


def test_an_exception_in_the_stream_thread_fails_the_run() -> None:
    stream = OrderStream(NoBroker(), products=[], customers=["c"], count=5, rate=1000)  # type: ignore[arg-type]
    stream.start()
    with pytest.raises(AssertionError, match="the order stream failed after 0 of 5"):
        stream.join()
    with pytest.raises(AssertionError):
        stream.sent(1)


def with_parcels(run: Run) -> Run:
    """The clean run with the carrier's bookings: one per kept order, ord_4's stopped."""
    run.shipments = [{"reference": "ord_1", "status": "processing"}, {"reference": "ord_4", "status": "cancelled"},
                     {"reference": "ord_5", "status": "label_created"}]
    return run


def test_a_run_with_one_parcel_per_kept_order_passes() -> None:
    report = judge(with_parcels(clean_run()))
    assert report.ok(), report.problems


def test_a_kept_order_never_booked_fails() -> None:
    run = with_parcels(clean_run())
    assert run.shipments is not None
    run.shipments.pop(0)
    assert failures(run) == {"missing": 1}


def test_a_parcel_booked_twice_fails() -> None:
    run = with_parcels(clean_run())
    assert run.shipments is not None
    run.shipments.append({"reference": "ord_5", "status": "processing"})
    assert failures(run) == {"doubled": 1}


def test_a_cancelled_orders_parcel_still_going_fails() -> None:
    run = with_parcels(clean_run())
    assert run.shipments is not None
    run.shipments[1]["status"] = "processing"
    assert failures(run) == {"spurious": 1}
