"""Key to partition, exactly as Kafka's Java default partitioner does it
(murmur2 of the key bytes, made positive, modulo the partition count).

Every producer of orderflow uses this hashing (aiokafka's default, and
confluent-kafka with ``partitioner=murmur2_random``), so a key's partition is
the same whoever wrote it, and table reads can be routed to the owner.
"""

from __future__ import annotations

from aiokafka.partitioner import murmur2

__all__ = ["CONFLUENT_PARTITIONER", "partition_for_key"]

# librdkafka's default (consistent_random, CRC32) would disagree with the rest.
CONFLUENT_PARTITIONER = "murmur2_random"


def partition_for_key(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions
