"""The agents' output records, produced through librdkafka.

Faust's ``topic.send`` costs about 300 us of CPU per record in its own
layers above aiokafka; confluent-kafka's ``produce`` about 30 us. So every
record an agent sends (``Outbox``) goes through one confluent-kafka producer
per worker: acks=all, idempotent (a retried batch is written once, in
order), Kafka's murmur2 partitioning like every other producer here. Table
changelogs stay on Faust's producer (``agents.checkpoints`` sends them).

The commit rule holds as before: the flush every commit runs first also
waits here until every record produced so far is acknowledged
(``drain``), and a record that fails for good ends the worker at once,
without a graceful stop that would commit past the message that made it
(Kafka then redelivers, and every handler absorbs the replay).

Produces to the catalog's topics; consumes nothing; owns no table.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Mapping

from confluent_kafka import KafkaError, Message, Producer
from orderflow.agents.durability import EXIT_SEND_FAILED
from orderflow.partitioning import CONFLUENT_PARTITIONER

__all__ = ["OutputProducer"]

log = logging.getLogger(__name__)
DRAIN_PATIENCE_S = 120.0
LINGER_MS = 5


class OutputProducer:
    """One librdkafka producer, started on first use, and its delivery thread."""

    def __init__(self, bootstrap_servers: str) -> None:
        self._config = {
            "bootstrap.servers": bootstrap_servers,
            "partitioner": CONFLUENT_PARTITIONER,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": LINGER_MS,
        }
        self._producer: Producer | None = None
        self._lock = threading.Lock()

    def _started(self) -> Producer:
        if self._producer is None:
            with self._lock:
                if self._producer is None:
                    self._producer = Producer(self._config)
                    threading.Thread(target=self._serve_deliveries, name="output-deliveries", daemon=True).start()
        return self._producer

    def _serve_deliveries(self) -> None:
        producer = self._producer
        assert producer is not None
        while True:  # a daemon thread: the last commit's drain has delivered everything
            producer.poll(0.1)

    def produce(self, topic: str, key: bytes | None, value: bytes | None,
                headers: Mapping[str, bytes] | None = None) -> None:
        producer = self._started()
        while True:
            try:
                producer.produce(topic, value=value, key=key, headers=dict(headers) if headers else None,
                                 on_delivery=_delivered)
                return
            except BufferError:  # librdkafka's queue is full: let deliveries make room
                producer.poll(0.05)

    async def drain(self) -> None:
        """Return once every record produced so far is acknowledged."""
        producer = self._producer
        if producer is None:
            return
        left = await asyncio.to_thread(producer.flush, DRAIN_PATIENCE_S)
        if left:
            # Raising fails this commit; Faust retries it at the next interval.
            raise TimeoutError(f"{left} output records not acknowledged after {DRAIN_PATIENCE_S}s")


def _delivered(error: KafkaError | None, message: Message) -> None:
    if error is None:
        return
    log.critical("send to %s failed for good (%s); stopping before offsets move past it", message.topic(), error)
    logging.shutdown()
    os._exit(EXIT_SEND_FAILED)
