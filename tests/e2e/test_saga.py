"""The order saga end to end, over HTTP and Kafka, against the real broker,
real workers and the payment provider simulator."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from confluent_kafka import Producer
from support.http import get, post_json
from support.metrics import counter_total
from support.progress import group_lag_of
from support.saga import (
    CODEC,
    await_inventory,
    await_status,
    inventory,
    keyed_records,
    ledger,
    new_customer,
    new_id,
    order_events,
    payments_of,
    place,
    publish_shipment_event,
    seed_stock,
    set_provider,
)
from support.waiting import eventually, eventually_value

from orderflow.schemas import catalog
from orderflow.stack import DevStack

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def healthy_provider(stack: DevStack):
    set_provider(stack, outage=False, errorRate=0.0, latencyMs=0.0)
    yield
    set_provider(stack, outage=False, errorRate=0.0, latencyMs=0.0)


def parse_time(text: str) -> datetime:
    """An API timestamp: ISO-8601 in UTC with a Z."""
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text)


def products(stack: DevStack, *quantities: int, price: float = 10.0) -> list[str]:
    ids = [new_id("prod") for _ in quantities]
    for product_id, quantity in zip(ids, quantities, strict=True):
        seed_stock(stack, product_id, quantity, price)
    return ids


def test_happy_path_confirms_sells_the_stock_and_publishes_each_step(stack: DevStack) -> None:
    # Given three products in stock
    a, b, c = products(stack, 10, 10, 10, price=2.5)
    # When an order for all three is placed
    order_id = place(stack, [{"productId": a, "quantity": 2}, {"productId": b, "quantity": 1},
                             {"productId": c, "quantity": 3}])
    # Then it ends confirmed, with the total from the stock's prices
    order = await_status(stack, order_id, "confirmed")
    assert order["totalAmount"] == 15.0 and order["paymentStatus"] == "captured"
    # and on hand drops by the quantities once the reservations are sold
    for product_id, sold in ((a, 2), (b, 1), (c, 3)):
        await_inventory(stack, product_id, on_hand=10 - sold, reserved=0)
    # and the order reads back whole: each line with its unit price and status, the amounts,
    # every status with when and why it changed
    order = eventually_value(lambda: await_status(stack, order_id, "confirmed"),
                             until=lambda o: all(line["status"] == "sold" for line in o["items"])
                             and o["shippingStatus"] == "processing", timeout=30,
                             what="lines sold and the shipment booked")
    assert [(i["productId"], i["quantity"], i["unitPrice"], i["status"]) for i in order["items"]] == [
        (a, 2, 2.5, "sold"), (b, 1, 2.5, "sold"), (c, 3, 2.5, "sold")]
    assert (order["totalAmount"], order["currency"], order["status"]) == (15.0, "USD", "confirmed")
    assert (order["paymentStatus"], order["shippingStatus"]) == ("captured", "processing")
    assert order["shipmentId"] == f"shp_{order_id}" and order["carrier"] and order["trackingNumber"]
    history = order["statusHistory"]
    assert [(h["status"], h["reason"]) for h in history] == [
        ("pending", None), ("pending_payment", "validated"), ("confirmed", "payment_successful")]
    times = [parse_time(h["at"]) for h in history]
    assert times == sorted(times) and order["createdAt"] == history[0]["at"]
    assert parse_time(order["updatedAt"]) >= times[-1]
    # and the events show pending -> pending_payment -> confirmed, in order
    events = order_events(stack.settings.kafka, order_id)
    assert [e["eventType"] for e in events] == ["OrderCreated", "OrderStatusChanged", "OrderStatusChanged"]
    assert [(e["data"]["previousStatus"], e["data"]["newStatus"]) for e in events[1:]] == [
        ("pending", "pending_payment"), ("pending_payment", "confirmed")]
    assert len({e["eventId"] for e in events}) == 3


def test_out_of_stock_line_rejects_the_order_and_releases_every_line(stack: DevStack) -> None:
    a, b = products(stack, 5, 1)
    order_id = place(stack, [{"productId": a, "quantity": 2}, {"productId": b, "quantity": 3}])
    order = await_status(stack, order_id, "rejected")
    assert order["statusHistory"][-1]["reason"] == "out_of_stock"
    await_inventory(stack, a, on_hand=5, reserved=0)
    await_inventory(stack, b, on_hand=1, reserved=0)
    assert payments_of(stack, order_id) == []


def test_unknown_product_rejects_the_order(stack: DevStack) -> None:
    (a,) = products(stack, 5)
    order_id = place(stack, [{"productId": a, "quantity": 1}, {"productId": new_id("ghost"), "quantity": 1}])
    assert await_status(stack, order_id, "rejected")["statusHistory"][-1]["reason"] == "unknown_product"
    await_inventory(stack, a, on_hand=5, reserved=0)


def test_declined_payment_fails_the_order_and_releases_the_stock(stack: DevStack) -> None:
    (a,) = products(stack, 4)
    order_id = place(stack, [{"productId": a, "quantity": 3}], payment_method="pm_insufficient_funds")
    order = await_status(stack, order_id, "payment_failed")
    assert order["statusHistory"][-1]["reason"] == "insufficient_funds"
    await_inventory(stack, a, on_hand=4, reserved=0)


def test_provider_outage_makes_orders_wait_then_complete_without_double_charge(stack: DevStack) -> None:
    (a,) = products(stack, 10)
    set_provider(stack, outage=True)
    calls_before = sum(ledger(stack)["calls"].values())
    order_ids = [place(stack, [{"productId": a, "quantity": 1}]) for _ in range(3)]
    for order_id in order_ids:
        await_status(stack, order_id, "pending_payment")
    # the payment agent keeps trying while the provider is down
    eventually(lambda: sum(ledger(stack)["calls"].values()) >= calls_before + 4, timeout=20,
               what="payment retries reaching the provider")
    # and the orders still wait: nothing was decided while the provider was down
    assert [get(f"{stack.gateway_url}/api/v1/orders/{o}").json()["status"] for o in order_ids] == [
        "pending_payment"] * 3
    set_provider(stack, outage=False)
    for order_id in order_ids:
        await_status(stack, order_id, "confirmed")
        charges = payments_of(stack, order_id)
        assert len(charges) == 1 and charges[0]["captures"] == 1
    await_inventory(stack, a, on_hand=7, reserved=0)


def test_payment_timeout_cancels_the_order_and_releases_the_stock(stack: DevStack) -> None:
    (a,) = products(stack, 6)
    set_provider(stack, outage=True)
    order_id = place(stack, [{"productId": a, "quantity": 2}])
    order = await_status(stack, order_id, "cancelled", timeout=stack.settings.payment_timeout_s + 30)
    assert order["statusHistory"][-1]["reason"] == "payment_timeout"
    await_inventory(stack, a, on_hand=6, reserved=0)
    set_provider(stack, outage=False)
    # the payment agent failed the request once it outlived the order's payment
    # window, instead of calling the provider again: nobody is authorized, let alone charged
    failed = eventually_value(lambda: keyed_records(stack.settings.kafka, catalog.PAYMENT_EVENTS, order_id),
                              until=lambda events: any(e["eventType"] == "PaymentFailed" for e in events),
                              timeout=60, what="the expired payment request handled")
    assert {(e["eventType"], e["data"]["errorCode"]) for e in failed} == {("PaymentFailed", "payment_expired")}
    at_provider = ledger(stack)
    assert [p for p in at_provider["payments"] if p["orderId"] == order_id] == []
    assert [d for d in at_provider["declines"] if d["orderId"] == order_id] == []


def test_cancel_before_shipment_releases_stock_and_refunds_once(stack: DevStack) -> None:
    (a,) = products(stack, 5)
    order_id = place(stack, [{"productId": a, "quantity": 2}])
    await_status(stack, order_id, "confirmed")
    await_inventory(stack, a, on_hand=3, reserved=0)
    reply = post_json(f"{stack.gateway_url}/api/v1/orders/{order_id}/cancel", {})
    assert reply.status == 200 and reply.json() == {"orderId": order_id, "status": "cancelled"}
    eventually(lambda: [p["refunds"] for p in payments_of(stack, order_id)] == [1], timeout=30, what="refund")
    eventually(lambda: await_status(stack, order_id, "cancelled")["paymentStatus"] == "refunded",
               timeout=30, what="refund recorded on the order")
    await_inventory(stack, a, on_hand=5, reserved=0)  # the sold units are back
    # a second cancel changes nothing and refunds nothing more
    again = post_json(f"{stack.gateway_url}/api/v1/orders/{order_id}/cancel", {})
    assert again.status == 200
    assert payments_of(stack, order_id)[0]["refunds"] == 1
    events = order_events(stack.settings.kafka, order_id)
    cancelled = [e["data"] for e in events if e["eventType"] == "OrderCancelled"]
    assert len(cancelled) == 1
    # seed 003's decimal refundAmount beside orderflow's integer minor units
    total = await_status(stack, order_id, "cancelled")["totalAmount"]
    assert (cancelled[0]["refundAmount"], cancelled[0]["refundAmountCents"]) == (total, round(total * 100))


def test_cancel_of_a_pending_payment_order_releases_reserved_stock(stack: DevStack) -> None:
    (a,) = products(stack, 5)
    set_provider(stack, outage=True)
    order_id = place(stack, [{"productId": a, "quantity": 4}])
    await_status(stack, order_id, "pending_payment")
    assert inventory(stack, a)["reserved"] == 4
    reply = post_json(f"{stack.gateway_url}/api/v1/orders/{order_id}/cancel", {"reason": "changed_mind"})
    assert reply.json()["status"] == "cancelled"
    await_inventory(stack, a, on_hand=5, reserved=0)


def test_shipment_events_move_a_confirmed_order_to_delivered_and_cancel_then_gets_409(
    stack: DevStack, kafka_producer: Producer
) -> None:
    (a,) = products(stack, 5)
    order_id = place(stack, [{"productId": a, "quantity": 1}])
    await_status(stack, order_id, "confirmed")
    publish_shipment_event(kafka_producer, order_id, "Shipped")
    assert await_status(stack, order_id, "shipped")["shippingStatus"] == "shipped"
    reply = post_json(f"{stack.gateway_url}/api/v1/orders/{order_id}/cancel", {})
    assert reply.status == 409 and "shipped" in reply.json()["message"]
    publish_shipment_event(kafka_producer, order_id, "Delivered")
    assert await_status(stack, order_id, "delivered")["shippingStatus"] == "delivered"
    assert post_json(f"{stack.gateway_url}/api/v1/orders/{order_id}/cancel", {}).status == 409


def pay_externally(producer: Producer, order_id: str, kind: str, amount_cents: int) -> str:
    """A payment event from another payment service on payments.events; returns its paymentId."""
    payment_id = new_id("pay_ext")
    data = {"paymentId": payment_id, "orderId": order_id, "customerId": "c", "amountCents": amount_cents,
            "currency": "USD"}
    data.update({"status": "captured"} if kind == "PaymentCompleted" else
                {"errorCode": "card_expired", "errorMessage": "Card expired"})
    record = {"eventId": new_id("evt"), "eventType": kind, "timestamp": "2026-11-22T00:00:00Z",
              "version": "1.0", "data": data}
    producer.produce(catalog.PAYMENT_EVENTS.name, key=order_id.encode(),
                     value=CODEC.encode(f"orderflow.v1.{kind}", record))
    assert producer.flush(10) == 0
    return payment_id


@pytest.mark.parametrize(("kind", "status", "on_hand", "reason"), [
    ("PaymentCompleted", "confirmed", 3, "payment_successful"),
    ("PaymentFailed", "payment_failed", 5, "card_expired"),
])
def test_external_payment_event_settles_a_waiting_order_and_our_provider_captures_nothing(
    stack: DevStack, kafka_producer: Producer, kind: str, status: str, on_hand: int, reason: str
) -> None:
    # Given an order waiting for payment while our provider is down
    (a,) = products(stack, 5)
    set_provider(stack, outage=True)
    order_id = place(stack, [{"productId": a, "quantity": 2}])
    await_status(stack, order_id, "pending_payment")
    workers = [stack.worker_url(i) for i in range(stack.workers)]
    left_alone = counter_total(workers, "orderflow_payments_settled_elsewhere")
    # When another payment service reports the payment on payments.events
    payment_id = pay_externally(kafka_producer, order_id, kind, 2000)
    # Then the order settles as if our payment agent had reported it, and so does its stock
    order = await_status(stack, order_id, status)
    assert order["statusHistory"][-1]["reason"] == reason
    assert (order["paymentStatus"], order["paymentError"]) == (
        ("captured", None) if kind == "PaymentCompleted" else ("failed", "card_expired"))
    await_inventory(stack, a, on_hand=on_hand, reserved=0)
    # and once our provider is back, our payment agent does not capture: nobody pays twice
    set_provider(stack, outage=False)
    # (waiting on the counter alone raced: another test's order, queued on the
    # same partition behind the outage, could raise it before this one was handled)
    eventually(lambda: not group_lag_of(stack, catalog.PAYMENT_REQUESTS), timeout=60,
               what="every payment request handled and committed")
    assert counter_total(workers, "orderflow_payments_settled_elsewhere") > left_alone
    assert [p["captures"] for p in payments_of(stack, order_id)] == [0]  # an authorization hold only
    after = await_status(stack, order_id, status)
    assert (after["paymentStatus"], after["statusHistory"]) == (order["paymentStatus"], order["statusHistory"])
    events = keyed_records(stack.settings.kafka, catalog.PAYMENT_EVENTS, order_id)
    assert [(e["eventType"], e["data"]["paymentId"] == payment_id) for e in events] == [
        (kind, True), ("PaymentAuthorized", False)]  # ours, which the order ignores


def test_200_orders_racing_for_50_units_sell_exactly_50(stack: DevStack) -> None:
    (a,) = products(stack, 50)
    customers = [new_customer(stack) for _ in range(7)]
    with ThreadPoolExecutor(max_workers=32) as pool:
        order_ids = list(pool.map(lambda i: place(stack, [{"productId": a, "quantity": 1}],
                                                  customer=customers[i % 7]), range(200)))
    statuses = [await_status(stack, o, "confirmed", "rejected", timeout=90)["status"] for o in order_ids]
    assert statuses.count("confirmed") == 50
    assert statuses.count("rejected") == 150
    await_inventory(stack, a, on_hand=0, reserved=0)
