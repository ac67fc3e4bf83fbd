"""What the broker says of partitions' offsets, for the lag gauges: end
offsets (one ListOffsets request for all partitions asked) and a group's
committed offsets (one OffsetFetch request).

Consumes nothing; owns one admin client, made on first use (nothing connects
at app build) and made again after a failure (e.g. a fenced leader epoch
after a broker restart: the client's metadata is stale, so the next
measurement starts a fresh one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec
from faust.types import TP

from orderflow.kafka_client import KafkaClient, as_client

__all__ = ["BrokerOffsets"]

T = TypeVar("T")


class BrokerOffsets:
    def __init__(self, kafka: KafkaClient | str, timeout_s: float = 10.0) -> None:
        self._config = as_client(kafka).config()
        self._timeout = timeout_s
        self._admin: AdminClient | None = None

    def ends(self, tps: list[TP]) -> dict[TP, int]:
        def ask(admin: AdminClient) -> dict[TP, int]:
            request = {TopicPartition(tp.topic, tp.partition): OffsetSpec.latest() for tp in tps}
            futures = admin.list_offsets(request, request_timeout=self._timeout)
            return {TP(tp.topic, tp.partition): future.result().offset for tp, future in futures.items()}
        return self._asking(ask)

    def committed(self, group: str, tps: list[TP]) -> dict[TP, int]:
        """The group's committed offsets of ``tps`` (-1001 where it has none)."""
        def ask(admin: AdminClient) -> dict[TP, int]:
            wanted = [ConsumerGroupTopicPartitions(group, [TopicPartition(tp.topic, tp.partition) for tp in tps])]
            answer = admin.list_consumer_group_offsets(wanted, request_timeout=self._timeout)[group].result()
            return {TP(p.topic, p.partition): p.offset for p in answer.topic_partitions}
        return self._asking(ask)

    def _asking(self, ask: Callable[[AdminClient], T]) -> T:
        if self._admin is None:
            self._admin = AdminClient(self._config)
        try:
            return ask(self._admin)
        except Exception:
            self._admin = None
            raise
