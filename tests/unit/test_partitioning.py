"""partitioning.partition_for_key: the Java client's key -> partition mapping, shared by
aiokafka (Faust) and the gateway's confluent-kafka producer."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner
from confluent_kafka import Producer
from hypothesis import given
from hypothesis import strategies as st

from orderflow.gateway.producer import producer_config
from orderflow.partitioning import partition_for_key

# Values the Java client computes (its murmur2 of the key, as a signed int), as
# published with Kafka's and kafka-python's murmur2 compatibility tests.
JAVA_MURMUR2 = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}
JAVA_PARTITION_OF_1000 = {b"": 681, b"a": 524, b"ab": 434, b"abc": 107, b"123456789": 566, b"\x00 ": 742}


@pytest.mark.parametrize(("key", "java_hash"), JAVA_MURMUR2.items())
def test_hash_matches_the_java_murmur2(key, java_hash):
    # With 2**31 partitions the partition is the hash made positive, unreduced.
    assert partition_for_key(key, 2**31) == java_hash & 0x7FFFFFFF


@pytest.mark.parametrize(("key", "partition"), JAVA_PARTITION_OF_1000.items())
def test_partition_matches_the_java_default_partitioner(key, partition):
    assert partition_for_key(key, 1000) == partition


@given(st.binary(max_size=64), st.integers(min_value=1, max_value=10_000))
def test_partition_is_deterministic_and_in_range(key, partitions):
    partition = partition_for_key(key, partitions)
    assert 0 <= partition < partitions
    assert partition_for_key(bytes(key), partitions) == partition


@given(st.binary(max_size=64), st.integers(min_value=1, max_value=256))
def test_partition_agrees_with_aiokafka_default_partitioner(key, partitions):
    all_partitions = list(range(partitions))
    assert partition_for_key(key, partitions) == DefaultPartitioner()(key, all_partitions, all_partitions)


def test_partition_agrees_with_the_gateway_producer_on_a_mock_cluster():
    """librdkafka's in-process mock cluster (auto-created topic) records where
    the gateway's producer configuration really puts each key."""
    config = {**producer_config("unused:9092"), "test.mock.num.brokers": 1, "log_level": 3}
    producer = Producer(config)
    placed: dict[bytes, int] = {}
    keys = [f"ord_{i:04x}".encode() for i in range(300)]
    for key in keys:
        producer.produce("partitioning-check", key=key, value=b"",
                         on_delivery=lambda err, msg: placed.__setitem__(msg.key(), msg.partition()))
    assert producer.flush(10) == 0
    partitions = len(producer.list_topics("partitioning-check", timeout=10).topics["partitioning-check"].partitions)
    assert partitions > 1 and len(placed) == len(keys)
    assert placed == {key: partition_for_key(key, partitions) for key in keys}
