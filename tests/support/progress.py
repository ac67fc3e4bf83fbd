"""How far the workers' consumer group has got: its committed offsets, the lag
left per partition, and the wait until one message of ours is handled.

The commit moves only past messages an agent handled (agents/runtime/commits.py), so
"the group committed past this offset" is a message's own evidence that it
was handled, where a global counter can be moved by anybody's message.
"""

from __future__ import annotations

from collections.abc import Collection

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from orderflow.schemas import catalog
from orderflow.stack import DevStack
from support.waiting import eventually

__all__ = ["MAIN_INPUTS", "await_handled", "committed_offsets", "group_lag", "group_lag_of", "produce_one"]

MAIN_INPUTS = frozenset(s.name for s in (catalog.ORDER_COMMANDS, catalog.STOCK_RESULTS, catalog.STOCK_REQUESTS))


def committed_offsets(stack: DevStack) -> dict[tuple[str, int], int]:
    """The workers' group's committed offset per (topic, partition) it has committed on."""
    admin = AdminClient(stack.settings.kafka.config())
    request = ConsumerGroupTopicPartitions(stack.settings.app_id)
    answer = admin.list_consumer_group_offsets([request])[stack.settings.app_id].result()
    return {(tp.topic, tp.partition): max(tp.offset, 0) for tp in answer.topic_partitions}


def group_lag(stack: DevStack, topics: Collection[str] | None = MAIN_INPUTS) -> dict[str, dict[int, int]]:
    """Per partition of ``topics`` (None: every topic the workers' group has
    committed on): end offset minus the group's committed offset, where not
    zero. A partition the group never committed on lags by its end offset."""
    committed = committed_offsets(stack)
    names = {topic for topic, _ in committed} if topics is None else set(topics)
    consumer = Consumer({**stack.settings.kafka.config(), "group.id": "lag-probe"})
    try:
        lag: dict[str, dict[int, int]] = {}
        for name in sorted(names):
            for partition in consumer.list_topics(name, timeout=10).topics[name].partitions:
                high = consumer.get_watermark_offsets(TopicPartition(name, partition), timeout=10)[1]
                if high - committed.get((name, partition), 0):
                    lag.setdefault(name, {})[partition] = high - committed.get((name, partition), 0)
        return lag
    finally:
        consumer.close()


def group_lag_of(stack: DevStack, spec: catalog.TopicSpec) -> dict[int, int]:
    """Partitions of one topic the workers' group has not committed to the end."""
    return group_lag(stack, {spec.name}).get(spec.name, {})


def produce_one(producer: Producer, topic: str, key: str, value: bytes,
                headers: dict[str, bytes] | list | None = None, partition: int | None = None) -> tuple[int, int]:
    """Write one record (to ``partition``, if given) and wait for its delivery; its (partition, offset)."""
    delivered: list[Message] = []
    extra = {} if partition is None else {"partition": partition}
    producer.produce(topic, key=key.encode(), value=value, headers=headers or {},
                     on_delivery=lambda err, msg: delivered.append(msg) if err is None else None, **extra)
    assert producer.flush(10) == 0 and delivered, f"{topic} record of {key} not delivered"
    return delivered[0].partition(), delivered[0].offset()


def await_handled(stack: DevStack, topic: str, partition: int, offset: int, timeout: float = 30) -> None:
    """Wait until the workers' group has committed past ``offset`` of ``topic``/``partition``."""
    eventually(lambda: committed_offsets(stack).get((topic, partition), 0) > offset, timeout=timeout,
               what=f"{topic}[{partition}]@{offset} handled and committed")
