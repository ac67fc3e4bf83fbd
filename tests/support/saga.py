"""Steps of the order saga as a user drives it: seed stock, place orders,
await statuses, read inventory, the payment ledger and the events topic."""

from __future__ import annotations

import json
import uuid
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from orderflow.kafka_client import KafkaClient, as_client
from orderflow.partitioning import partition_for_key
from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec
from orderflow.stack import DevStack
from support.http import get, post_json, request
from support.waiting import eventually_value

__all__ = [
    "adjust_stock",
    "await_inventory",
    "await_status",
    "inventory",
    "keyed_records",
    "ledger",
    "new_customer",
    "new_id",
    "order_events",
    "place",
    "publish_shipment_event",
    "seed_stock",
    "set_provider",
]

CODEC = Codec()


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def seed_stock(stack: DevStack, product_id: str, quantity: int, price: float | None = None) -> None:
    reply = post_json(f"{stack.gateway_url}/api/v1/inventory/{product_id}/adjustments",
                      {"type": "restock", "quantity": quantity})
    assert reply.status == 202, reply.body
    if price is not None:
        assert post_json(f"{stack.gateway_url}/api/v1/products/{product_id}/price", {"price": price}).status == 202
    eventually_value(lambda: inventory(stack, product_id),
                     until=lambda inv: inv is not None and inv["onHand"] >= quantity
                     and (price is None or inv["price"] == price), timeout=30, what=f"stock of {product_id} seeded")


def adjust_stock(stack: DevStack, product_id: str, kind: str, quantity: int, reason: str | None = None) -> None:
    """An operator's inventory adjustment through the gateway's admin route."""
    body: dict[str, Any] = {"type": kind, "quantity": quantity}
    if reason is not None:
        body["reason"] = reason
    reply = post_json(f"{stack.gateway_url}/api/v1/inventory/{product_id}/adjustments", body)
    assert reply.status == 202, reply.body


def inventory(stack: DevStack, product_id: str) -> dict[str, Any] | None:
    reply = get(f"{stack.gateway_url}/api/v1/inventory/{product_id}")
    return reply.json() if reply.status == 200 else None


def await_inventory(stack: DevStack, product_id: str, on_hand: int, reserved: int) -> dict[str, Any]:
    def reached(inv: dict[str, Any] | None) -> bool:
        return inv is not None and (inv["onHand"], inv["reserved"]) == (on_hand, reserved)

    found = eventually_value(lambda: inventory(stack, product_id), until=reached,
                             timeout=30, what=f"{product_id} at onHand={on_hand} reserved={reserved}")
    assert found is not None
    return found


def new_customer(stack: DevStack, first_name: str = "Ada") -> str:
    """Register a customer through the API; returns its id."""
    reply = post_json(f"{stack.gateway_url}/api/v1/customers",
                      {"email": f"{new_id('user')}@example.com", "firstName": first_name, "lastName": "Lovelace"})
    assert reply.status == 201, reply.body
    return str(reply.json()["customerId"])


_DEFAULT_CUSTOMERS: dict[int, str] = {}


def default_customer(stack: DevStack) -> str:
    if id(stack) not in _DEFAULT_CUSTOMERS:
        _DEFAULT_CUSTOMERS[id(stack)] = new_customer(stack)
    return _DEFAULT_CUSTOMERS[id(stack)]


def place(stack: DevStack, items: list[dict[str, Any]], payment_method: str = "pm_visa",
          customer: str | None = None, headers: dict[str, str] | None = None) -> str:
    customer = customer or default_customer(stack)
    reply = post_json(f"{stack.gateway_url}/api/v1/orders",
                      {"customerId": customer, "items": items, "paymentMethodId": payment_method}, headers)
    assert reply.status == 202, reply.body
    return str(reply.json()["orderId"])


def await_status(stack: DevStack, order_id: str, *statuses: str, timeout: float = 40) -> dict[str, Any]:
    reply = eventually_value(lambda: get(f"{stack.gateway_url}/api/v1/orders/{order_id}"),
                             until=lambda r: r.status == 200 and r.json()["status"] in statuses, timeout=timeout,
                             what=f"order {order_id} in {statuses}")
    return reply.json()


def ledger(stack: DevStack) -> dict[str, Any]:
    return get(f"{stack.payment_simulator_url}/_sim/ledger").json()


def payments_of(stack: DevStack, order_id: str) -> list[dict[str, Any]]:
    return [p for p in ledger(stack)["payments"] if p["orderId"] == order_id]


def set_provider(stack: DevStack, **behaviour: Any) -> None:
    reply = request("PUT", f"{stack.payment_simulator_url}/_sim/behaviour",
                    json.dumps(behaviour).encode(), {"Content-Type": "application/json"})
    assert reply.status == 200, reply.body


def keyed_records(bootstrap: KafkaClient | str, spec: catalog.TopicSpec, key: str) -> list[dict[str, Any]]:
    """Every record on topic ``spec`` with this key, in partition order."""
    topic = spec.name
    consumer = Consumer({**as_client(bootstrap).config(), "group.id": new_id("probe"),
                         "enable.auto.commit": False})
    try:
        partitions = len(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        tp = TopicPartition(topic, partition_for_key(key.encode(), partitions), 0)
        high = consumer.get_watermark_offsets(tp, timeout=10)[1]
        consumer.assign([tp])
        found: list[dict[str, Any]] = []
        position = 0
        while position < high:
            message = consumer.poll(5)
            if message is None:
                continue
            assert message.error() is None, message.error()
            position = message.offset() + 1
            if message.key() == key.encode():
                found.append(CODEC.decode(message.value()).record)
        return found
    finally:
        consumer.close()


def order_events(bootstrap: KafkaClient | str, order_id: str) -> list[dict[str, Any]]:
    """Every event on orders.events for one order, in order."""
    return keyed_records(bootstrap, catalog.ORDER_EVENTS, order_id)


def publish_shipment_event(producer: Any, order_id: str, kind: str) -> None:
    """A Shipped or Delivered from another delivery service, on shipments.events."""
    record = {"eventId": new_id("evt"), "eventType": kind, "timestamp": "2026-11-22T00:00:00Z",
              "version": "1.0", "data": {"orderId": order_id, "shipmentId": f"shp_ext_{order_id}"}}
    producer.produce(catalog.SHIPMENT_EVENTS.name, key=order_id.encode(),
                     value=CODEC.encode(f"orderflow.v1.{kind}", record))
    assert producer.flush(10) == 0


def at_carrier_of(stack: DevStack, order_id: str) -> list[dict[str, Any]]:
    """The carrier's shipments for an order (the simulator's own read, not the API a shipper uses)."""
    return list(get(f"{stack.carrier_url}/_sim/references/{order_id}").json()["shipments"])


def booked(stack: DevStack, order_id: str) -> dict[str, Any]:
    """The order's shipment at the carrier, once it is booked there (exactly one)."""
    found = eventually_value(lambda: at_carrier_of(stack, order_id), lambda shipments: len(shipments) > 0,
                             timeout=30, what=f"the shipment of {order_id} booked")
    assert len(found) == 1, found
    return found[0]


def advance(stack: DevStack, shipment: dict[str, Any], status: str) -> int:
    """Move the parcel at the carrier; the simulator's answer (409 once it was cancelled)."""
    return post_json(f"{stack.carrier_url}/_sim/shipments/{shipment['shipmentId']}/advance", {"status": status}).status
