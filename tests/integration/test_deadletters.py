"""`orderflow dlq`: dead letters written by the running workers are listed with
their reason and source, and a replay re-produces the original record (key,
value, headers) to its source topic, where the agents handle it again."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from click.testing import CliRunner
from confluent_kafka import Consumer, Message, Producer, TopicPartition
from support.http import get
from support.progress import produce_one
from support.waiting import eventually, eventually_value

from orderflow.cli import main
from orderflow.deadletter_headers import REPLAYED_FROM
from orderflow.deadletters import DeadLetter, read, replay
from orderflow.partitioning import partition_for_key
from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec
from orderflow.stack import DevStack

pytestmark = pytest.mark.integration

TOPIC = catalog.ORDER_COMMANDS.name


def produce(producer: Producer, key: str, value: bytes, headers: list | None = None,
            partition: int | None = None) -> tuple[int, int]:
    return produce_one(producer, TOPIC, key, value, headers, partition)


def dead_letter_of(servers: str, key: str, replay_of: str | None = None) -> DeadLetter:
    def probe() -> DeadLetter | None:
        letters, _ = read(servers, source_topic=TOPIC)
        return next((d for d in letters if d.key == key.encode() and d.replay_of == replay_of), None)

    return eventually_value(probe, until=lambda found: found is not None, timeout=30,
                            what=f"dead letter of {key} (replay of {replay_of})")


def record_at(servers: str, topic: str, partition: int, offset: int) -> Message:
    consumer = Consumer({"bootstrap.servers": servers, "group.id": f"dlq-test-{uuid.uuid4().hex[:8]}",
                         "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(topic, partition, offset)])
        msg = eventually_value(lambda: consumer.poll(0.5), until=lambda m: m is not None, timeout=30,
                               what=f"{topic}[{partition}]@{offset}")
        assert msg.error() is None and msg.offset() == offset
        return msg
    finally:
        consumer.close()


def cli(servers: str, *args: str):
    return CliRunner().invoke(main, ["dlq", *args], env={"ORDERFLOW_BOOTSTRAP_SERVERS": servers})


def new_id() -> str:
    return f"ord_dlq_{uuid.uuid4().hex[:16]}"


def test_a_malformed_value_is_listed_with_its_reason_and_source(stack: DevStack, kafka_producer: Producer) -> None:
    servers = stack.settings.kafka_servers
    key = new_id()
    partition, offset = produce(kafka_producer, key, b"not avro at all")
    letter = dead_letter_of(servers, key)
    assert letter.value == b"not avro at all"
    assert letter.reason.startswith("undecodable:")
    assert letter.source == f"{TOPIC}[{partition}]@{offset}"

    result = cli(servers, "list", "--topic", TOPIC, "--limit", "0")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith(f"{letter.position} "))
    assert f"{TOPIC}[{partition}]@{offset}" in line
    assert f"key='{key}'" in line and "value='not avro at all'" in line and "reason: undecodable:" in line


def test_an_impossible_order_is_listed_with_what_is_wrong(stack: DevStack, kafka_producer: Producer) -> None:
    servers = stack.settings.kafka_servers
    key = new_id()
    order = {"orderId": key, "customerId": "cust_dlq", "paymentMethodId": "pm_1",
             "items": [{"productId": "prod_dlq", "quantity": 0}]}
    produce(kafka_producer, key, json.dumps(order).encode(), [("content-type", b"application/json")])
    letter = dead_letter_of(servers, key)
    assert "impossible PlaceOrder" in letter.reason and "quantity" in letter.reason
    assert letter.original_headers == [("content-type", b"application/json")]


def test_replay_reproduces_the_original_record_and_the_agents_take_it(stack: DevStack,
                                                                       kafka_producer: Producer) -> None:
    """A valid order written to the wrong partition is dead-lettered; its replay
    goes through the murmur2 partitioner to the key's partition and is stored."""
    servers = stack.settings.kafka_servers
    order_id = new_id()
    value = Codec().encode(catalog.ORDER_COMMANDS.default_schema, {
        "orderId": order_id, "customerId": "cust_dlq", "paymentMethodId": "pm_1",
        "items": [{"productId": "prod_dlq", "quantity": 1}]})
    right = partition_for_key(order_id.encode(), stack.settings.partitions)
    produce(kafka_producer, order_id, value, [("trace-id", b"t-1")], partition=(right + 1) % stack.settings.partitions)
    letter = dead_letter_of(servers, order_id)
    assert f"key belongs to partition {right}" in letter.reason
    assert get(f"{stack.gateway_url}/api/v1/orders/{order_id}").status == 404

    result = cli(servers, "replay", letter.position)
    assert result.exit_code == 0, result.output
    found = re.search(rf"replayed {letter.position} -> {re.escape(TOPIC)}\[(\d+)\]@(\d+)", result.output)
    assert found, result.output
    partition, offset = int(found[1]), int(found[2])
    assert partition == right
    record = record_at(servers, TOPIC, partition, offset)
    assert record.key() == order_id.encode() and record.value() == value
    assert record.headers() == [("trace-id", b"t-1"), (REPLAYED_FROM, letter.position.encode())]

    eventually(lambda: get(f"{stack.gateway_url}/api/v1/orders/{order_id}").status == 200, timeout=30,
               what="replayed order stored")
    assert letter.position in {d.position for d in read(servers, source_topic=TOPIC)[0]}  # still there


def test_a_replay_that_fails_again_is_listed_as_a_replay_of_the_first(stack: DevStack,
                                                                      kafka_producer: Producer) -> None:
    servers = stack.settings.kafka_servers
    key = new_id()
    produce(kafka_producer, key, b"\x00\x00\x00\x7f\xffbroken")
    first = dead_letter_of(servers, key)
    [done] = replay(servers, [first])
    assert (done.dead_letter, done.topic) == (first.position, TOPIC)

    again = dead_letter_of(servers, key, replay_of=first.position)
    assert (again.value, again.reason) == (first.value, first.reason)
    assert again.source == f"{TOPIC}[{done.partition}]@{done.offset}"
    listing = cli(servers, "list", "--topic", TOPIC, "--limit", "0").output
    assert f"\n{first.position} " in f"\n{listing}"  # the first is not lost
    assert any(line.startswith(f"{again.position} ") and f"replay-of={first.position}" in line
               for line in listing.splitlines())


def test_replay_refuses_unknown_positions_and_needs_a_selection(stack: DevStack) -> None:
    servers = stack.settings.kafka_servers
    unknown = cli(servers, "replay", "0:999999999")
    assert unknown.exit_code == 1 and "no dead letter at 0:999999999" in unknown.output
    assert cli(servers, "replay", "seven").exit_code == 1
    assert cli(servers, "replay").exit_code == 2  # usage: nothing chosen
    assert cli(servers, "replay", "--all", "0:1").exit_code == 2
