"""Orders written straight to the ingress topic by any Kafka client, as Avro or
as JSON with a content-type header, behave like orders from the gateway; bad
values are counted and never stop the worker."""

from __future__ import annotations

import json
import uuid

import pytest
from confluent_kafka import Producer
from support.http import get
from support.metrics import counter_total
from support.progress import await_handled, produce_one
from support.saga import order_events
from support.waiting import eventually_value

from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec
from orderflow.stack import DevStack

pytestmark = pytest.mark.integration

TOPIC = catalog.ORDER_COMMANDS.name
SCHEMA = catalog.ORDER_COMMANDS.default_schema


def command(order_id: str, customer: str = "cust_k") -> dict:
    return {"orderId": order_id, "customerId": customer, "paymentMethodId": "pm_1",
            "items": [{"productId": "prod_k", "quantity": 3}]}


def new_id() -> str:
    return f"ord_{uuid.uuid4().hex}"


def produce(producer: Producer, key: str, value: bytes, headers: dict | None = None) -> tuple[int, int]:
    return produce_one(producer, TOPIC, key, value, headers)


def stored(stack: DevStack, order_id: str) -> dict:
    reply = eventually_value(lambda: get(f"{stack.gateway_url}/api/v1/orders/{order_id}"),
                             until=lambda r: r.status == 200, timeout=30, what=f"order {order_id} stored")
    return reply.json()


def test_avro_order_from_any_producer_is_stored(stack: DevStack, kafka_producer: Producer) -> None:
    order_id = new_id()
    produce(kafka_producer, order_id, Codec().encode(SCHEMA, command(order_id)))
    assert stored(stack, order_id)["items"][0]["quantity"] == 3


def test_json_order_with_content_type_header_is_stored(stack: DevStack, kafka_producer: Producer) -> None:
    order_id = new_id()
    produce(kafka_producer, order_id, json.dumps(command(order_id)).encode(),
            {"content-type": b"application/json"})
    order = stored(stack, order_id)
    assert order["customerId"] == "cust_k"
    assert order["currency"] == "USD"  # filled from the schema's default


def test_duplicate_place_order_changes_nothing(stack: DevStack, kafka_producer: Producer) -> None:
    codec = Codec()
    order_id = new_id()
    produce(kafka_producer, order_id, codec.encode(SCHEMA, command(order_id, customer="first")))
    stored(stack, order_id)
    await_handled(stack, TOPIC, *produce(kafka_producer, order_id, codec.encode(SCHEMA, command(order_id,
                                                                                              customer="second"))))
    assert stored(stack, order_id)["customerId"] == "first"
    created = [e for e in order_events(stack.settings.kafka_servers, order_id) if e["eventType"] == "OrderCreated"]
    assert len(created) == 1 and created[0]["data"]["customerId"] == "first"


@pytest.mark.parametrize(
    ("value", "headers"),
    [
        (b"not avro at all", {}),
        (b"\x00\x00\x00\x7f\xff\x01\x02", {}),  # unknown schema id
        (b"{\"orderId\": 5}", {"content-type": b"application/json"}),
        (b"{broken json", {"content-type": b"application/json"}),
    ],
    ids=["garbage", "unknown-schema-id", "json-wrong-types", "json-malformed"],
)
def test_undecodable_value_is_counted_and_the_worker_keeps_going(
    stack: DevStack, kafka_producer: Producer, value: bytes, headers: dict
) -> None:
    urls = [stack.worker_url(i) for i in range(stack.workers)]
    before = counter_total(urls, "orderflow_undecodable_messages", topic=TOPIC)
    bad_key = new_id()
    await_handled(stack, TOPIC, *produce(kafka_producer, bad_key, value, headers))
    assert counter_total(urls, "orderflow_undecodable_messages", topic=TOPIC) > before
    good = new_id()
    produce(kafka_producer, good, Codec().encode(SCHEMA, command(good)))
    stored(stack, good)
    assert get(f"{stack.gateway_url}/api/v1/orders/{bad_key}").status == 404


def test_key_that_does_not_match_order_id_is_not_stored(stack: DevStack, kafka_producer: Producer) -> None:
    urls = [stack.worker_url(i) for i in range(stack.workers)]
    before = counter_total(urls, "orderflow_undecodable_messages", topic=TOPIC)
    order_id = new_id()
    await_handled(stack, TOPIC, *produce(kafka_producer, "some-other-key", Codec().encode(SCHEMA, command(order_id))))
    assert counter_total(urls, "orderflow_undecodable_messages", topic=TOPIC) > before
    assert get(f"{stack.gateway_url}/api/v1/orders/{order_id}").status == 404
