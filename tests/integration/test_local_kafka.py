"""Real-broker tests of the local Kafka launcher (orderflow.broker).

They need Java and Maven (or already resolved jars under run/test-broker).
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from orderflow.broker import KafkaStartError, LocalKafka, ensure_jars

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


# ----------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def kafka_lib() -> Path:
    """Jars shared with the session broker, so tmp-dir clusters do not re-resolve them."""
    return ensure_jars(REPO_ROOT / "run" / "test-broker")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def admin_for(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap})


def create_topic(bootstrap: str, name: str, partitions: int = 1, replication: int = -1) -> None:
    admin = admin_for(bootstrap)  # must outlive the futures
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=replication)], operation_timeout=30
    )
    futures[name].result(timeout=60)


def produce(
    bootstrap: str, topic: str, values: list[bytes], partitions: int = 1, **conf: object
) -> list[KafkaError]:
    """Produce ``values`` round-robin over ``partitions``; return the delivery errors."""
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, _msg: object) -> None:
        if err is not None:
            errors.append(err)

    producer = Producer({"bootstrap.servers": bootstrap, **conf})
    for i, value in enumerate(values):
        producer.produce(topic, value, partition=i % partitions, on_delivery=on_delivery)
    assert producer.flush(180) == 0, "producer could not deliver or fail every message"
    return errors


def consume(bootstrap: str, topic: str, count: int, timeout: float = 60.0) -> list[bytes]:
    """Read ``count`` values from the start of ``topic`` through a fresh consumer group."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique("test-group"),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    values: list[bytes] = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout
        while len(values) < count and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            values.append(msg.value())
    finally:
        consumer.close()
    return values


def topic_names(bootstrap: str) -> set[str]:
    return set(admin_for(bootstrap).list_topics(timeout=30).topics)


def message_count(bootstrap: str, topic: str) -> int | None:
    """Sum of (high - low) watermarks over the topic's partitions; None while a leader is unavailable."""
    metadata = admin_for(bootstrap).list_topics(topic=topic, timeout=30)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("watermarks")})
    try:
        total = 0
        for partition in metadata.topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
            total += high - low
        return total
    except KafkaException as exc:
        if exc.args[0].retriable() or exc.args[0].code() == KafkaError.NOT_LEADER_FOR_PARTITION:
            return None
        raise
    finally:
        consumer.close()


def wait_for(what: str, probe: Callable[[], T], ok: Callable[[T], bool], timeout: float = 90.0) -> T:
    """Poll ``probe`` until ``ok`` holds for its result; fail with the last result after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if ok(value):
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {value!r}")
        time.sleep(0.5)


# ------------------------------------------------------------------------- tests


def test_broker_answers_metadata_and_round_trips(bootstrap_servers: str) -> None:
    metadata = admin_for(bootstrap_servers).list_topics(timeout=30)
    assert metadata.brokers, "metadata lists no broker"
    assert metadata.cluster_id

    topic = unique("roundtrip")
    create_topic(bootstrap_servers, topic)
    assert topic in topic_names(bootstrap_servers)
    sent = [f"order-{i}".encode() for i in range(5)]
    assert produce(bootstrap_servers, topic, sent) == []
    assert consume(bootstrap_servers, topic, len(sent)) == sent


def test_auto_topic_creation_is_off(bootstrap_servers: str) -> None:
    topic = unique("never-created")
    errors = produce(
        bootstrap_servers,
        topic,
        [b"lost"],
        **{"message.timeout.ms": 5000, "topic.metadata.propagation.max.ms": 2000},
    )
    assert len(errors) == 1, "producing to an unknown topic was delivered"

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": unique("test-group"),
            "allow.auto.create.topics": True,  # ask for it: only the broker config may refuse
        }
    )
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            assert msg is None or msg.error() is not None, "consumed from a topic that should not exist"
    finally:
        consumer.close()

    assert topic not in topic_names(bootstrap_servers)


# A three-node cluster losing a broker and taking it back is the fault suite's
# (tests/reliability/test_broker_faults.py: the same launcher, rf 3 and min ISR 2,
# under a stream of orders); a second cluster here only cost CI time.


def test_single_node_keeps_data_across_restarts(tmp_path: Path, kafka_lib: Path) -> None:
    run_dir = tmp_path / "single"
    topic = unique("durable")
    sent = [f"kept-{i}".encode() for i in range(5)]

    with LocalKafka(run_dir, nodes=1, port=0, lib_dir=kafka_lib) as kafka:
        print(f"1-node startup_seconds={kafka.startup_seconds:.1f}")
        with pytest.raises(KafkaStartError, match="in use by another LocalKafka"):
            LocalKafka(run_dir, nodes=1, port=0, lib_dir=kafka_lib).start()
        create_topic(kafka.bootstrap_servers, topic)
        assert produce(kafka.bootstrap_servers, topic, sent) == []
        kafka.stop()
        assert not kafka.running

        kafka.start()  # same object, same ports
        assert topic in topic_names(kafka.bootstrap_servers)
        assert consume(kafka.bootstrap_servers, topic, len(sent)) == sent

    again = LocalKafka(run_dir, nodes=1, port=0, lib_dir=kafka_lib)  # new object, new ports
    with again:
        wait_for(
            f"{len(sent)} messages kept",
            lambda: message_count(again.bootstrap_servers, topic),
            lambda n: n == len(sent),
            timeout=30,
        )

    again.start(fresh=True)
    try:
        assert topic not in topic_names(again.bootstrap_servers)
    finally:
        again.stop()


def test_node_failing_to_start_raises_with_its_log(tmp_path: Path, kafka_lib: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        kafka = LocalKafka(tmp_path / "clash", nodes=1, port=port, lib_dir=kafka_lib)
        with pytest.raises(KafkaStartError, match="(?s)exited.*already in use"):
            kafka.start(timeout=60)
    assert not kafka.running
