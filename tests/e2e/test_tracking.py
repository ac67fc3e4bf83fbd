"""Tracking reads: long-poll, Server-Sent Events, a customer's order list,
inventory, the Idempotency-Key, and duplicates that must change nothing."""

from __future__ import annotations

import http.client
import json
import threading
from urllib.parse import urlparse

import pytest
from confluent_kafka import Producer
from support.http import context_for, default_token, get, post_json
from support.metrics import counter_total
from support.progress import await_handled, produce_one
from support.saga import (
    CODEC,
    await_status,
    new_customer,
    new_id,
    order_events,
    payments_of,
    place,
    publish_shipment_event,
    seed_stock,
)
from support.waiting import eventually, eventually_value

from orderflow.schemas import catalog
from orderflow.stack import DevStack

pytestmark = pytest.mark.e2e


def test_long_poll_returns_once_the_order_leaves_the_status(stack: DevStack) -> None:
    product = new_id("prod")
    seed_stock(stack, product, 5)
    order_id = place(stack, [{"productId": product, "quantity": 1}])
    # one request, no client-side polling: the worker holds it until the status moves on
    reply = get(f"{stack.gateway_url}/api/v1/orders/{order_id}?waitWhileStatus=pending,pending_payment&timeout=20",
                timeout=30)
    assert reply.status == 200 and reply.json()["status"] == "confirmed"


def test_long_poll_on_an_unknown_order_ends_with_404_after_the_timeout(stack: DevStack) -> None:
    reply = get(f"{stack.gateway_url}/api/v1/orders/ord_never?waitWhileStatus=pending&timeout=0.5")
    assert reply.status == 404


def read_sse(url: str, until_status: str, timeout: float) -> list[dict]:
    parsed = urlparse(url)
    conn: http.client.HTTPConnection
    if parsed.scheme == "https":
        conn = http.client.HTTPSConnection(parsed.hostname, parsed.port, timeout=timeout, context=context_for(url))
    else:
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
    conn.request("GET", parsed.path, headers={"Accept": "text/event-stream",
                                              "Authorization": f"Bearer {default_token(url)}"})
    response = conn.getresponse()
    assert response.status == 200 and response.getheader("Content-Type").startswith("text/event-stream")
    events = []
    try:
        for raw in response:
            line = raw.decode().rstrip("\n")
            if line.startswith("data: "):
                events.append(json.loads(line.removeprefix("data: ")))
                if events[-1]["status"] == until_status:
                    break
    finally:
        conn.close()
    return events


def test_event_stream_sends_every_status_change_while_the_client_listens(stack: DevStack) -> None:
    product = new_id("prod")
    seed_stock(stack, product, 5)
    order_id = place(stack, [{"productId": product, "quantity": 1}])
    received: list[dict] = []
    reader = threading.Thread(target=lambda: received.extend(
        read_sse(f"{stack.gateway_url}/api/v1/orders/{order_id}/events", "delivered", timeout=60)))
    reader.start()
    await_status(stack, order_id, "confirmed")
    for status in ("shipped", "delivered"):
        reply = post_json(f"{stack.gateway_url}/api/v1/orders/{order_id}/shipments", {"status": status})
        assert reply.status == 202
        await_status(stack, order_id, status)
    reader.join(60)
    assert [e["status"] for e in received] == ["pending", "pending_payment", "confirmed", "shipped", "delivered"]


def test_customer_order_list_is_paginated_newest_first(stack: DevStack) -> None:
    customer, product = new_customer(stack), new_id("prod")
    seed_stock(stack, product, 10)
    order_ids = [place(stack, [{"productId": product, "quantity": 1}], customer=customer) for _ in range(5)]

    first = eventually_value(lambda: get(f"{stack.gateway_url}/api/v1/customers/{customer}/orders?page=1&limit=2")
                             .json(), until=lambda body: body["pagination"]["total"] == 5, timeout=30,
                             what="five orders listed")
    assert first["pagination"] == {"page": 1, "limit": 2, "total": 5}
    assert len(first["orders"]) == 2
    third = get(f"{stack.gateway_url}/api/v1/customers/{customer}/orders?page=3&limit=2").json()
    assert len(third["orders"]) == 1
    listed_ids = [o["orderId"] for page in (1, 2, 3) for o in
                  get(f"{stack.gateway_url}/api/v1/customers/{customer}/orders?page={page}&limit=2").json()["orders"]]
    assert sorted(listed_ids) == sorted(order_ids)
    created = [o["createdAt"] for page in (1, 2, 3) for o in
               get(f"{stack.gateway_url}/api/v1/customers/{customer}/orders?page={page}&limit=2").json()["orders"]]
    assert created == sorted(created, reverse=True)


def test_bad_pagination_gets_400(stack: DevStack) -> None:
    reply = get(f"{stack.gateway_url}/api/v1/customers/cust_x/orders?page=0")
    assert reply.status == 400 and "page" in reply.json()["message"]


def test_inventory_shows_on_hand_reserved_and_available(stack: DevStack) -> None:
    product = new_id("prod")
    seed_stock(stack, product, 7, price=3.25)
    body = get(f"{stack.gateway_url}/api/v1/inventory/{product}").json()
    assert body == {"productId": product, "onHand": 7, "reserved": 0, "available": 7, "price": 3.25,
                    "currency": "USD"}
    assert get(f"{stack.gateway_url}/api/v1/inventory/{new_id('ghost')}").status == 404


def test_retried_post_with_the_same_idempotency_key_creates_one_order(stack: DevStack) -> None:
    product = new_id("prod")
    seed_stock(stack, product, 10)
    key = {"Idempotency-Key": new_id("idem")}
    customer = new_customer(stack)
    first = place(stack, [{"productId": product, "quantity": 2}], customer=customer, headers=key)
    second = place(stack, [{"productId": product, "quantity": 2}], customer=customer, headers=key)
    assert first == second
    await_status(stack, first, "confirmed")
    eventually(lambda: (inv := get(f"{stack.gateway_url}/api/v1/inventory/{product}").json())["onHand"] == 8
               and inv["reserved"] == 0, timeout=30, what="one order's stock sold")
    assert len(payments_of(stack, first)) == 1
    assert [e["eventType"] for e in order_events(stack.settings.kafka, first)].count("OrderCreated") == 1


def line_sold(stack: DevStack, order_id: str) -> dict:
    """The order once it is confirmed, its one line sold and its parcel booked (this stack's
    carrier never moves a parcel on by itself): nothing changes it any more by itself."""
    return eventually_value(lambda: await_status(stack, order_id, "confirmed"),
                            until=lambda o: o["items"][0]["status"] == "sold" and o["shippingStatus"] == "processing",
                            timeout=30, what="line sold and parcel booked")


def test_duplicate_payment_events_change_nothing(stack: DevStack, kafka_producer: Producer) -> None:
    product = new_id("prod")
    seed_stock(stack, product, 10)
    order_id = place(stack, [{"productId": product, "quantity": 1}])
    before = line_sold(stack, order_id)
    completed = {"eventId": new_id("evt"), "eventType": "PaymentCompleted", "timestamp": "2026-11-22T00:00:00Z",
                 "version": "1.0", "data": {"paymentId": "pay_dup", "orderId": order_id, "customerId": "c",
                                            "amountCents": 1000, "currency": "USD", "status": "captured"}}
    value = CODEC.encode("orderflow.v1.PaymentCompleted", completed)
    copies = [produce_one(kafka_producer, catalog.PAYMENT_EVENTS.name, order_id, value) for _ in range(2)]
    await_handled(stack, catalog.PAYMENT_EVENTS.name, *max(copies))  # one key: one partition, in order
    after = await_status(stack, order_id, "confirmed")
    assert after == before
    statuses = [e["data"].get("newStatus") for e in order_events(stack.settings.kafka, order_id)]
    assert statuses.count("confirmed") == 1


def test_delivered_for_an_order_never_shipped_is_ignored_and_counted(stack: DevStack,
                                                                     kafka_producer: Producer) -> None:
    product = new_id("prod")
    seed_stock(stack, product, 5)
    order_id = place(stack, [{"productId": product, "quantity": 1}])
    before = line_sold(stack, order_id)
    workers = [stack.worker_url(i) for i in range(stack.workers)]
    illegal = counter_total(workers, "orderflow_illegal_transitions", agent="process_orders")
    # another delivery service reports a delivery the order never shipped for
    publish_shipment_event(kafka_producer, order_id, "Delivered")
    eventually(lambda: counter_total(workers, "orderflow_illegal_transitions", agent="process_orders")
               >= illegal + 1, timeout=30, what="the illegal transition counted")
    assert await_status(stack, order_id, "confirmed") == before  # not applied: the same revision
    statuses = [e["data"].get("newStatus") for e in order_events(stack.settings.kafka, order_id)]
    assert "delivered" not in statuses
