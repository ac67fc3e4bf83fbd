"""Prices, inventory events, customers, velocity limits and notifications,
end to end against the real broker and workers."""

from __future__ import annotations

import time

import pytest
from support.http import get, post_json, request
from support.progress import group_lag_of
from support.saga import (
    await_inventory,
    await_status,
    keyed_records,
    new_customer,
    new_id,
    place,
    seed_stock,
    set_provider,
)
from support.waiting import eventually, eventually_value

from orderflow.schemas import catalog
from orderflow.stack import DevStack

pytestmark = pytest.mark.e2e


def set_price(stack: DevStack, product: str, price: float, effective_at: int) -> None:
    reply = post_json(f"{stack.gateway_url}/api/v1/products/{product}/price",
                      {"price": price, "effectiveAt": effective_at})
    assert reply.status == 202, reply.body


def adjust(stack: DevStack, product: str, kind: str, quantity: int) -> None:
    reply = post_json(f"{stack.gateway_url}/api/v1/inventory/{product}/adjustments",
                      {"type": kind, "quantity": quantity})
    assert reply.status == 202, reply.body


def product_price(stack: DevStack, product: str) -> float:
    return get(f"{stack.gateway_url}/api/v1/products/{product}").json()["price"]


def test_newer_price_sets_the_total_and_an_older_one_changes_nothing(stack: DevStack) -> None:
    product, now = new_id("prod"), int(time.time() * 1000)
    seed_stock(stack, product, 10)
    set_price(stack, product, 4.00, now)
    eventually(lambda: product_price(stack, product) == 4.0, timeout=30, what="price applied")
    set_price(stack, product, 9.99, now - 60_000)  # older: arrives late, must not roll back
    # Once the workers have committed every price update, the late one was handled.
    eventually(lambda: not group_lag_of(stack, catalog.PRICES), timeout=30, what="the late price update handled")
    assert product_price(stack, product) == 4.0
    set_price(stack, product, 5.00, now + 1)
    eventually(lambda: product_price(stack, product) == 5.0, timeout=30, what="newer price applied")
    order_id = place(stack, [{"productId": product, "quantity": 3}])
    assert await_status(stack, order_id, "confirmed")["totalAmount"] == 15.0
    body = get(f"{stack.gateway_url}/api/v1/products/{product}").json()
    assert body == {"productId": product, "price": 5.0, "currency": "USD", "available": 7, "inStock": True}


def test_client_price_that_differs_from_the_current_one_is_rejected(stack: DevStack) -> None:
    product = new_id("prod")
    seed_stock(stack, product, 10, price=7.5)
    stale = place(stack, [{"productId": product, "quantity": 1, "price": 7.0}])
    assert await_status(stack, stale, "rejected")["statusHistory"][-1]["reason"] == "price_changed"
    current = place(stack, [{"productId": product, "quantity": 1, "price": 7.5}])
    assert await_status(stack, current, "confirmed")["totalAmount"] == 7.5


def test_restock_makes_a_rejected_product_orderable_and_crossings_are_announced_once(stack: DevStack) -> None:
    product = new_id("prod")
    seed_stock(stack, product, 8)  # default threshold 5: ok
    first = place(stack, [{"productId": product, "quantity": 4}])   # 4 left: LowStock
    await_status(stack, first, "confirmed")
    second = place(stack, [{"productId": product, "quantity": 1}])  # 3 left: still low, no event
    await_status(stack, second, "confirmed")
    third = place(stack, [{"productId": product, "quantity": 3}])   # 0 left: OutOfStock
    await_status(stack, third, "confirmed")
    rejected = place(stack, [{"productId": product, "quantity": 1}])
    assert await_status(stack, rejected, "rejected")["statusHistory"][-1]["reason"] == "out_of_stock"
    adjust(stack, product, "restock", 20)                           # BackInStock
    await_inventory(stack, product, on_hand=20, reserved=0)
    again = place(stack, [{"productId": product, "quantity": 1}])
    await_status(stack, again, "confirmed")

    def kinds() -> list[str]:
        return [e["eventType"] for e in keyed_records(stack.settings.kafka_servers, catalog.INVENTORY_EVENTS, product)
                if not e["eventType"].startswith("Inventory")]  # the lines' own events: below

    assert eventually_value(kinds, until=lambda k: "BackInStock" in k, timeout=30, what="inventory events") == [
        "LowStock", "OutOfStock", "BackInStock"]
    # each confirmed order's line was announced reserved once (seed 003's InventoryReserved); the rejected one not
    reserved = [(e["data"]["orderId"], e["data"]["quantity"], e["data"]["lineCount"]) for e in keyed_records(
        stack.settings.kafka_servers, catalog.INVENTORY_EVENTS, product) if e["eventType"] == "InventoryReserved"]
    assert sorted(reserved) == sorted([(first, 4, 1), (second, 1, 1), (third, 3, 1), (again, 1, 1)])


def test_stock_take_below_reservations_keeps_them_and_raises_a_shortage(stack: DevStack) -> None:
    product = new_id("prod")
    seed_stock(stack, product, 10)
    set_provider(stack, outage=True)  # keeps the order's reservation open
    try:
        held = place(stack, [{"productId": product, "quantity": 6}])
        await_status(stack, held, "pending_payment")
        adjust(stack, product, "set", 2)
        inv = await_inventory(stack, product, on_hand=2, reserved=6)  # the reservation stands
        assert inv["available"] == -4
        kinds = eventually_value(lambda: [e["eventType"] for e in keyed_records(
            stack.settings.kafka_servers, catalog.INVENTORY_EVENTS, product)],
            until=lambda k: "StockShortage" in k, timeout=30, what="shortage alert")
        assert [k for k in kinds if not k.startswith("Inventory")] == [
            "LowStock", "OutOfStock", "StockShortage"]  # 4 available, then -4
        assert post_json(f"{stack.gateway_url}/api/v1/orders/{held}/cancel", {}).status == 200
        await_inventory(stack, product, on_hand=2, reserved=0)
        # the reservation's units went back, and the inventory service said so
        lines = eventually_value(lambda: [
            (e["eventType"], e["data"]["orderId"], e["data"]["quantity"], e["data"].get("releasedFrom"))
            for e in keyed_records(stack.settings.kafka_servers, catalog.INVENTORY_EVENTS, product)
            if e["eventType"].startswith("Inventory")], until=lambda found: len(found) == 2, timeout=30,
            what="the line's release announced")
        assert lines == [("InventoryReserved", held, 6, None), ("InventoryReleased", held, 6, "reserved")]
    finally:
        set_provider(stack, outage=False)


def test_unknown_customer_is_rejected(stack: DevStack) -> None:
    product = new_id("prod")
    seed_stock(stack, product, 5)
    order_id = place(stack, [{"productId": product, "quantity": 1}], customer=new_id("cust_nobody"))
    assert await_status(stack, order_id, "rejected")["statusHistory"][-1]["reason"] == "unknown_customer"
    await_inventory(stack, product, on_hand=5, reserved=0)


def test_customer_is_created_read_and_updated_with_events(stack: DevStack) -> None:
    email = f"{new_id('grace')}@example.com"
    created = post_json(f"{stack.gateway_url}/api/v1/customers",
                        {"email": email.upper(), "firstName": "Grace", "lastName": "Hopper", "phone": "555-0100"})
    assert created.status == 201
    customer_id = created.json()["customerId"]
    body = get(f"{stack.gateway_url}/api/v1/customers/{customer_id}").json()
    assert (body["email"], body["firstName"], body["phone"]) == (email, "Grace", "555-0100")
    updated = request("PUT", f"{stack.gateway_url}/api/v1/customers/{customer_id}",
                      b'{"phone": "555-0199"}', {"Content-Type": "application/json"})
    assert updated.status == 200 and updated.json()["phone"] == "555-0199"
    # the row the PUT answered with is written before the event is sent: wait for the event
    events = eventually_value(lambda: keyed_records(stack.settings.kafka_servers, catalog.CUSTOMER_EVENTS, customer_id),
                              until=lambda found: len(found) >= 2, what="CustomerCreated and CustomerUpdated")
    assert [e["eventType"] for e in events] == ["CustomerCreated", "CustomerUpdated"]
    assert events[0]["data"]["email"] == email and events[1]["data"]["updatedFields"] == ["phone"]


def test_email_is_validated_and_unique(stack: DevStack) -> None:
    bad = post_json(f"{stack.gateway_url}/api/v1/customers", {"email": "not-an-address"})
    assert bad.status == 400 and bad.json()["fields"][0]["field"] == "email"
    email = f"{new_id('dup')}@example.com"
    assert post_json(f"{stack.gateway_url}/api/v1/customers", {"email": email}).status == 201
    taken = post_json(f"{stack.gateway_url}/api/v1/customers", {"email": email})
    assert taken.status == 409
    other = new_customer(stack)
    change = request("PUT", f"{stack.gateway_url}/api/v1/customers/{other}",
                     f'{{"email": "{email}"}}'.encode(), {"Content-Type": "application/json"})
    assert change.status == 409
    free = f"{new_id('free')}@example.com"
    moved = request("PUT", f"{stack.gateway_url}/api/v1/customers/{other}",
                    f'{{"email": "{free}"}}'.encode(), {"Content-Type": "application/json"})
    assert moved.status == 200 and moved.json()["email"] == free


def test_customer_over_the_velocity_limit_is_rejected_until_a_new_window(stack: DevStack) -> None:
    customer, product = new_customer(stack), new_id("prod")
    seed_stock(stack, product, 100, price=3000.0)  # 3 units = 9,000.00 of a 10,000.00 window limit
    window = stack.settings.velocity_window_s
    # start right after a window boundary, so both orders fall in one window
    time.sleep(window - (time.time() % window) + 0.05)
    first = place(stack, [{"productId": product, "quantity": 3}], customer=customer)
    second = place(stack, [{"productId": product, "quantity": 3}], customer=customer)
    # the two orders race to the customer's check: whichever comes second is over the limit
    outcomes = sorted((o["status"], o["statusHistory"][-1]["reason"]) for o in
                      (await_status(stack, order, "confirmed", "rejected") for order in (first, second)))
    assert outcomes == [("confirmed", "payment_successful"), ("rejected", "velocity_limit")]
    time.sleep(window - (time.time() % window) + 0.05)  # the next window
    third = place(stack, [{"productId": product, "quantity": 3}], customer=customer)
    assert await_status(stack, third, "confirmed")["status"] == "confirmed"


def test_each_customer_facing_transition_yields_exactly_one_notification(stack: DevStack) -> None:
    customer, product = new_customer(stack, first_name="Linus"), new_id("prod")
    seed_stock(stack, product, 5)
    shipped = place(stack, [{"productId": product, "quantity": 1}], customer=customer)
    await_status(stack, shipped, "confirmed")
    for status in ("shipped", "delivered"):
        assert post_json(f"{stack.gateway_url}/api/v1/orders/{shipped}/shipments", {"status": status}).status == 202
        await_status(stack, shipped, status)
    cancelled = place(stack, [{"productId": product, "quantity": 1}], customer=customer)
    await_status(stack, cancelled, "confirmed")
    assert post_json(f"{stack.gateway_url}/api/v1/orders/{cancelled}/cancel", {}).status == 200
    declined = place(stack, [{"productId": product, "quantity": 1}], customer=customer,
                     payment_method="pm_card_declined")
    await_status(stack, declined, "payment_failed")
    expected = {(shipped, "order_confirmed"), (shipped, "order_shipped"), (shipped, "order_delivered"),
                (cancelled, "order_confirmed"), (cancelled, "order_cancelled"), (declined, "order_payment_failed")}

    def notifications() -> list[tuple[str, str]]:
        return [(n["fields"]["orderId"], n["template"])
                for n in keyed_records(stack.settings.kafka_servers, catalog.NOTIFICATIONS, customer)]

    found = eventually_value(notifications, until=lambda f: set(f) >= expected, timeout=30,
                             what="notifications written")
    assert sorted(found) == sorted(expected)  # exactly one each
    assert all(n["recipient"].endswith("@example.com") and n["channel"] == "email"
               for n in keyed_records(stack.settings.kafka_servers, catalog.NOTIFICATIONS, customer))
