"""Watches the orders events topic for each order's outcome.

Consumes ``catalog.ORDER_EVENTS`` from its end as it was before the first
order was sent (a confluent-kafka consumer in a thread, no consumer group
commits), decodes OrderStatusChanged with the codec and skips the other event
kinds by their schema id. Produces, into the current :class:`Recorder`, each
order's latency from its scheduled send time to its first outcome
(confirmed, rejected, payment_failed or cancelled), and each cancellation's
latency; orders to cancel once confirmed are handed back through ``to_cancel``.
"""

from __future__ import annotations

import collections
import threading
import time
import uuid

from confluent_kafka import Consumer, TopicPartition

from orderflow.bench.recorder import Recorder
from orderflow.kafka_client import KafkaClient, as_client
from orderflow.schemas import catalog
from orderflow.schemas.codec import HEADER, Codec
from orderflow.tables.order_status import OUTCOMES

__all__ = ["OutcomeTracker"]

STATUS_CHANGED = f"{catalog.NAMESPACE}.OrderStatusChanged"


class OutcomeTracker:
    def __init__(self, kafka: KafkaClient | str, codec: Codec) -> None:
        self._codec = codec
        self._status_id = codec.schema_id(STATUS_CHANGED)
        self._consumer = Consumer({
            **as_client(kafka).config(), "group.id": f"bench-tracker-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False, "fetch.wait.max.ms": 10, "enable.partition.eof": False})
        self._lock = threading.Lock()
        self._expected: dict[str, tuple[float, bool]] = {}   # orderId -> (scheduled monotonic, cancel it)
        self._cancelling: dict[str, float] = {}              # orderId -> cancel sent (monotonic)
        self._early: dict[str, tuple[str, float]] = {}       # outcome seen before expect()
        self.to_cancel: collections.deque[str] = collections.deque()
        self.recorder = Recorder()
        self.step_start = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-tracker", daemon=True)
        self.decode_errors = 0

    def start(self) -> None:
        """Assign every partition at its current end, then follow it."""
        topic = catalog.ORDER_EVENTS.name
        partitions = self._consumer.list_topics(topic, timeout=30).topics[topic].partitions
        assignment = []
        for p in partitions:
            _low, high = self._consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
            assignment.append(TopicPartition(topic, p, high))
        self._consumer.assign(assignment)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        self._consumer.close()

    def use(self, recorder: Recorder, step_start: float) -> None:
        """Record into ``recorder`` from now on (a new step)."""
        with self._lock:
            self.recorder, self.step_start = recorder, step_start

    def expect(self, order_id: str, scheduled: float, cancel: bool) -> None:
        with self._lock:
            early = self._early.pop(order_id, None)
            if early is None:
                self._expected[order_id] = (scheduled, cancel)
                return
        self._outcome(order_id, *early, known=(scheduled, cancel))

    def cancel_sent(self, order_id: str, at: float) -> None:
        with self._lock:
            self._cancelling[order_id] = at

    def forget(self, order_id: str) -> None:
        """The order was never accepted (an HTTP error): stop waiting for it."""
        with self._lock:
            self._expected.pop(order_id, None)

    @property
    def cancels_pending(self) -> int:
        with self._lock:
            return len(self._cancelling) + len(self.to_cancel)

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._expected)

    def _run(self) -> None:
        while not self._stop.is_set():
            messages = self._consumer.consume(1000, 0.1)
            seen = time.monotonic()
            for msg in messages:
                value = msg.value()
                if msg.error() or not value or len(value) < HEADER.size:
                    continue
                if HEADER.unpack_from(value)[1] != self._status_id:
                    continue
                try:
                    data = self._codec.decode(value).record["data"]
                except ValueError:
                    self.decode_errors += 1
                    continue
                if data["newStatus"] in OUTCOMES:
                    self._outcome(data["orderId"], data["newStatus"], seen)

    def _outcome(self, order_id: str, status: str, seen: float,
                 known: tuple[float, bool] | None = None) -> None:
        with self._lock:
            if status == "cancelled" and order_id in self._cancelling:
                self.recorder.cancel_done(seen - self._cancelling.pop(order_id))
                if order_id not in self._expected:
                    return
            expected = known or self._expected.pop(order_id, None)
            if expected is None:
                if len(self._early) < 1_000_000:  # someone else's order, or ours before expect()
                    self._early.setdefault(order_id, (status, seen))
                return
            scheduled, cancel = expected
            self.recorder.order_done(seen - self.step_start, seen - scheduled, status)
        if cancel and status == "confirmed":
            self.to_cancel.append(order_id)
