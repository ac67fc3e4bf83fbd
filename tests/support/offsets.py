"""How many records the gateway's topics ever got: the tests' proof that a
refused request wrote nothing to Kafka (read from the broker, as any client
would)."""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition

from orderflow.kafka_client import KafkaClient, as_client
from orderflow.schemas import catalog

__all__ = ["GATEWAY_TOPICS", "end_offsets"]

# The topics whose single writer is the gateway; payments.events and
# shipments.events are left out because their agents write them too, whenever
# an earlier test's payment settles or shipment moves.
GATEWAY_TOPICS = tuple(spec.name for spec in catalog.TOPICS if spec.writer == catalog.GATEWAY)


def end_offsets(bootstrap_servers: KafkaClient | str) -> dict[str, int]:
    """Each gateway topic's summed end offsets, i.e. how many records it ever got."""
    consumer = Consumer({**as_client(bootstrap_servers).config(), "group.id": "orderflow-test-offsets",
                         "enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(timeout=10)
        return {topic: sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1]
                           for p in metadata.topics[topic].partitions)
                for topic in GATEWAY_TOPICS}
    finally:
        consumer.close()
