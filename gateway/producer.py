"""An asyncio face on confluent-kafka's Producer, for the gateway's writes.

Owns one librdkafka producer (idempotent, acks=all, Java-compatible murmur2
partitioning) and a thread that serves its delivery callbacks. ``send``
resolves when the broker has acknowledged the record, so a 2xx answer means
the command is durable in Kafka. Owns the orderflow_gateway_produce_seconds
histogram (produce call to acknowledgement).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from orderflow.kafka_client import KafkaClient, as_client
from orderflow.metrics import GATEWAY_PRODUCE
from orderflow.partitioning import CONFLUENT_PARTITIONER

__all__ = ["AsyncProducer", "producer_config"]


def producer_config(kafka: KafkaClient | str) -> dict[str, object]:
    return as_client(kafka).config() | {
        "partitioner": CONFLUENT_PARTITIONER,
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 2,
    }


class AsyncProducer:
    def __init__(self, kafka: KafkaClient | str) -> None:
        self._config = producer_config(kafka)
        self._producer: Producer | None = None
        self._stopping = threading.Event()
        self._poller: threading.Thread | None = None

    def start(self) -> None:
        self._producer = Producer(self._config)
        self._poller = threading.Thread(target=self._poll, name="producer-poll", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        producer = self._producer
        if producer is None:
            raise RuntimeError("the producer is not started")
        while not self._stopping.is_set():
            producer.poll(0.05)

    async def send(self, topic: str, key: bytes, value: bytes,
                   headers: Mapping[str, bytes] | None = None) -> Message:
        if self._producer is None:
            raise RuntimeError("producer not started")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Message] = loop.create_future()

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                loop.call_soon_threadsafe(_fail, done, KafkaException(err))
            else:
                loop.call_soon_threadsafe(_succeed, done, msg)

        started = time.perf_counter()
        self._producer.produce(topic, value=value, key=key,
                               headers=dict(headers or {}), on_delivery=on_delivery)
        outcome = "failed"
        try:
            delivered = await done
            outcome = "ok"
            return delivered
        finally:
            GATEWAY_PRODUCE.labels(topic, outcome).observe(time.perf_counter() - started)

    async def ping(self, timeout: float = 2.0) -> None:
        """Raise KafkaException unless the broker answers a metadata request."""
        if self._producer is None:
            raise RuntimeError("producer not started")
        producer = self._producer
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: producer.list_topics(timeout=timeout))

    def stop(self, timeout: float = 10.0) -> None:
        if self._producer is None:
            return
        self._producer.flush(timeout)
        self._stopping.set()
        if self._poller is not None:
            self._poller.join(timeout)
        self._producer = None


def _succeed(future: asyncio.Future[Message], msg: Message) -> None:
    if not future.done():
        future.set_result(msg)


def _fail(future: asyncio.Future[Message], exc: Exception) -> None:
    if not future.done():
        future.set_exception(exc)
