"""The delivery service end to end: agent deliver_orders books each confirmed
order with the carrier simulator, follows it through the carrier's feed, and
the order moves to shipped and delivered; a cancel is decided by the
shipment's state at the carrier, never by a read of the order."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from confluent_kafka import Producer
from support.http import get, post_json
from support.metrics import counter_total
from support.saga import (
    advance,
    at_carrier_of,
    await_inventory,
    await_status,
    booked,
    new_id,
    order_events,
    payments_of,
    place,
    publish_shipment_event,
    seed_stock,
)
from support.waiting import eventually, eventually_value

from orderflow.stack import DevStack

pytestmark = pytest.mark.e2e


def order(stack: DevStack, order_id: str) -> dict[str, Any]:
    return get(f"{stack.gateway_url}/api/v1/orders/{order_id}").json()


def confirmed_order(stack: DevStack, quantity: int = 1) -> tuple[str, str]:
    product = new_id("prod")
    seed_stock(stack, product, 10, 4.0)
    order_id = place(stack, [{"productId": product, "quantity": quantity}])
    await_status(stack, order_id, "confirmed")
    return order_id, product


def test_a_confirmed_order_is_booked_followed_at_the_carrier_and_delivered(stack: DevStack) -> None:
    order_id, _ = confirmed_order(stack)
    at_carrier = booked(stack, order_id)
    shown = eventually_value(lambda: order(stack, order_id), lambda o: o["trackingNumber"] is not None, timeout=30,
                             what="the booking shown on the order")
    assert shown["shippingStatus"] == "processing" and shown["status"] == "confirmed"
    assert (shown["carrier"], shown["trackingNumber"]) == ("SimPost", at_carrier["trackingNumber"])
    assert shown["estimatedDelivery"] == at_carrier["estimatedDelivery"]
    assert shown["shipmentId"] == f"shp_{order_id}"

    advance(stack, at_carrier, "picked_up")
    assert await_status(stack, order_id, "shipped")["shippingStatus"] == "shipped"
    advance(stack, at_carrier, "in_transit")
    eventually(lambda: order(stack, order_id)["shippingStatus"] == "in_transit", timeout=30, what="in transit")
    advance(stack, at_carrier, "delivered")
    assert await_status(stack, order_id, "delivered")["shippingStatus"] == "delivered"

    shipment = get(f"{stack.gateway_url}/api/v1/shipments/shp_{order_id}").json()
    assert [h["status"] for h in shipment["history"]] == [
        "processing", "label_created", "picked_up", "in_transit", "delivered"]
    assert shipment["carrierShipmentId"] == at_carrier["shipmentId"]
    shipped = [e for e in order_events(stack.settings.kafka, order_id) if e["eventType"] == "OrderStatusChanged"]
    assert [e["data"]["newStatus"] for e in shipped][-2:] == ["shipped", "delivered"]
    assert get(f"{stack.gateway_url}/api/v1/shipments/shp_ord_nobody").status == 404


def test_a_cancel_before_pickup_stops_the_parcel_releases_the_stock_and_refunds(stack: DevStack) -> None:
    order_id, product = confirmed_order(stack, quantity=2)
    at_carrier = booked(stack, order_id)
    reply = post_json(f"{stack.gateway_url}/api/v1/orders/{order_id}/cancel", {"reason": "changed_mind"})
    assert reply.status in (200, 202), reply.body
    cancelled = await_status(stack, order_id, "cancelled")
    assert cancelled["shippingStatus"] == "cancelled"
    assert at_carrier_of(stack, order_id)[0]["status"] == "cancelled"
    eventually(lambda: [p["refunds"] for p in payments_of(stack, order_id)] == [1], timeout=30, what="refund")
    await_inventory(stack, product, on_hand=10, reserved=0)
    assert advance(stack, at_carrier, "picked_up") == 409  # the parcel can no longer move


def test_goods_reported_gone_for_a_cancelled_order_are_recorded_not_dropped(stack: DevStack,
                                                                          kafka_producer: Producer) -> None:
    """Another delivery service ships what this one stopped: the order stays cancelled (stock and
    refund already moved back) and shows the fact with the compensation it calls for, counted once."""
    order_id, product = confirmed_order(stack)
    booked(stack, order_id)
    post_json(f"{stack.gateway_url}/api/v1/orders/{order_id}/cancel", {})
    eventually(lambda: order(stack, order_id)["paymentStatus"] == "refunded", timeout=30, what="cancelled, refunded")
    workers = [stack.worker_url(i) for i in range(stack.workers)]
    counted = counter_total(workers, "orderflow_shipping_contradictions", fact="Shipped")
    for _ in range(2):  # the sender's retry: still one fact
        publish_shipment_event(kafka_producer, order_id, "Shipped")
    shown = eventually_value(lambda: order(stack, order_id), lambda o: o["contradictions"] != [], timeout=30,
                             what="the contradiction recorded")
    assert (shown["status"], shown["paymentStatus"]) == ("cancelled", "refunded")
    assert [(c["fact"], c["orderStatus"], c["compensation"]) for c in shown["contradictions"]] == [
        ("Shipped", "cancelled", ["return_goods", "reverse_refund"])]
    eventually(lambda: counter_total(workers, "orderflow_shipping_contradictions", fact="Shipped") == counted + 1,
               timeout=30, what="counted")
    await_inventory(stack, product, on_hand=10, reserved=0)
    assert [p["refunds"] for p in payments_of(stack, order_id)] == [1]


def test_a_cancel_after_pickup_loses_the_goods_left(stack: DevStack) -> None:
    order_id, product = confirmed_order(stack)
    advance(stack, booked(stack, order_id), "picked_up")
    reply = post_json(f"{stack.gateway_url}/api/v1/orders/{order_id}/cancel", {})
    assert reply.status in (202, 409), reply.body  # 202 while the delivery service decides
    shipped = await_status(stack, order_id, "shipped")
    eventually(lambda: not order(stack, order_id)["cancelRequested"], timeout=30, what="the cancel decided")
    assert shipped["paymentStatus"] == "captured"
    assert post_json(f"{stack.gateway_url}/api/v1/orders/{order_id}/cancel", {}).status == 409
    await_inventory(stack, product, on_hand=9, reserved=0)


def test_shipment_and_cancel_sent_together_never_cross(stack: DevStack) -> None:
    """Pickup and cancel at the same moment, many times: each order ends either cancelled with its parcel
    stopped, its stock back and its payment refunded, or shipped with its parcel gone, its stock sold and
    its payment kept; never a mix."""
    orders = [confirmed_order(stack) for _ in range(8)]
    parcels = {order_id: booked(stack, order_id) for order_id, _ in orders}

    def race(order_id: str) -> None:
        with ThreadPoolExecutor(2) as pool:
            picked = pool.submit(_try_advance, stack, parcels[order_id])
            pool.submit(post_json, f"{stack.gateway_url}/api/v1/orders/{order_id}/cancel", {}).result()
            picked.result()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(race, parcels))
    finals = {}
    for order_id, _ in orders:
        finals[order_id] = await_status(stack, order_id, "cancelled", "shipped")
        eventually(lambda o=order_id: not order(stack, o)["cancelRequested"], timeout=30, what="decided")
    for order_id, product in orders:
        final = order(stack, order_id)
        parcel = at_carrier_of(stack, order_id)[0]["status"]
        if final["status"] == "cancelled":
            assert parcel == "cancelled"
            await_inventory(stack, product, on_hand=10, reserved=0)
            eventually(lambda o=order_id: [p["refunds"] for p in payments_of(stack, o)] == [1], timeout=30,
                       what="refund")
        else:
            assert parcel == "picked_up"
            await_inventory(stack, product, on_hand=9, reserved=0)
            assert [p["refunds"] for p in payments_of(stack, order_id)] == [0]
            assert final["paymentStatus"] == "captured"


def _try_advance(stack: DevStack, parcel: dict[str, Any]) -> bool:
    status = advance(stack, parcel, "picked_up")
    assert status in (200, 409), status  # 409: cancelled first
    return status == 200


def test_an_operator_cannot_mark_delivered_what_never_left(stack: DevStack) -> None:
    order_id, _ = confirmed_order(stack)
    booked(stack, order_id)
    workers = [stack.worker_url(i) for i in range(stack.workers)]
    refused = counter_total(workers, "orderflow_shipment_moves_refused", source="operator")
    reply = post_json(f"{stack.gateway_url}/api/v1/orders/{order_id}/shipments", {"status": "delivered"})
    assert reply.status == 202
    eventually(lambda: counter_total(workers, "orderflow_shipment_moves_refused", source="operator") >= refused + 1,
               timeout=30, what="the correction refused and counted")
    assert order(stack, order_id)["status"] == "confirmed"
