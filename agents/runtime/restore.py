"""Restores table partitions from their changelogs in bulk, before Faust's
own recovery reads them one event at a time (about 2,000 records/s here).

When a worker is assigned table partitions (active or standby), Faust's
recovery works out where each changelog partition's local copy ends (the
offset stored in its RocksDB) and then consumes the rest through its stream
machinery. ``restore_in_bulk`` wraps that step: it first reads each
partition from there to its high watermark with a librdkafka consumer in a
thread, writes the records to RocksDB in write batches, each with the offset
it reaches, and hands Faust the offsets it reached, so Faust's recovery only
reads what arrived meanwhile. Per record the only Python work is taking its
key and value.

Consumes the table changelogs; produces nothing; owns no table (it writes the
stores' RocksDB partitions through ``CheckpointedStore.restore_batch``).
Progress: a log line every few seconds with the rate and the time left, and
the ``orderflow_restore_*`` metrics. Pinned to faust-streaming 0.15.3
(``Recovery._build_offsets`` and ``tp_to_table``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition
from faust.types import TP

from orderflow.kafka_client import KafkaClient, as_client
from orderflow.metrics import RESTORE_RECORDS, RESTORE_REMAINING

__all__ = ["BulkRestore", "restore_in_bulk"]

log = logging.getLogger(__name__)
BATCH_RECORDS = 10_000
PROGRESS_EVERY_S = 5.0


@dataclass
class Partition:
    """One changelog partition to bring up to its high watermark."""

    tp: TP
    store: Any  # CheckpointedStore
    db: Any
    next_offset: int
    high: int = 0

    @property
    def remaining(self) -> int:
        return max(0, self.high - self.next_offset)


class BulkRestore:
    """Reads changelog partitions to their high watermarks into RocksDB."""

    def __init__(self, kafka: KafkaClient | str, budget_s: float, group: str = "orderflow-restore") -> None:
        self.kafka = as_client(kafka)
        self.budget_s = budget_s
        self.group = group  # required by librdkafka; nothing is committed under it

    def run(self, partitions: list[Partition], stop: threading.Event) -> None:
        consumer = Consumer(self.kafka.config() | {"group.id": self.group,
                             "enable.auto.commit": False, "enable.partition.eof": True,
                             "auto.offset.reset": "earliest",
                             "fetch.max.bytes": 64 << 20, "max.partition.fetch.bytes": 16 << 20})
        try:
            for part in partitions:
                _low, part.high = consumer.get_watermark_offsets(
                    TopicPartition(part.tp.topic, part.tp.partition), timeout=10, cached=False)
            todo = [p for p in partitions if p.remaining]
            if todo:
                self._read(consumer, todo, stop)
        finally:
            consumer.close()

    def _read(self, consumer: Consumer, todo: list[Partition], stop: threading.Event) -> None:
        by_tp = {(p.tp.topic, p.tp.partition): p for p in todo}
        total = sum(p.remaining for p in todo)
        RESTORE_REMAINING.set(total)
        log.info("restoring %d records of %d changelog partitions in bulk", total, len(todo))
        consumer.assign([TopicPartition(p.tp.topic, p.tp.partition, p.next_offset) for p in todo])
        started = last_report = time.monotonic()
        done, left = 0, total
        pending = set(by_tp)  # till each reports its end (offsets of a compacted log have gaps)
        while pending and not stop.is_set() and time.monotonic() - started < self.budget_s:
            batches: dict[tuple[str, int], list[tuple[bytes, bytes | None, int]]] = {}
            for msg in consumer.consume(BATCH_RECORDS, timeout=0.5):
                key = (msg.topic() or "", msg.partition() or 0)
                error = msg.error()
                if error is None:
                    batches.setdefault(key, []).append((msg.key() or b"", msg.value(), msg.offset() or 0))
                elif error.code() == KafkaError._PARTITION_EOF:
                    pending.discard(key)
                else:
                    raise RuntimeError(f"restore of {key} failed: {error}")
            for key, records in batches.items():
                part = by_tp[key]
                part.store.restore_batch(part.db, records)
                part.next_offset = records[-1][2] + 1
                done += len(records)
                RESTORE_RECORDS.inc(len(records))
            left = sum(p.remaining for p in todo)
            RESTORE_REMAINING.set(left)
            now = time.monotonic()
            if now - last_report >= PROGRESS_EVERY_S:
                last_report = now
                _report(done, left, now - started)
        elapsed = time.monotonic() - started
        log.info("bulk restore read %d records in %.1f s (%.0f/s); %d left for Faust's recovery",
                 done, elapsed, done / elapsed if elapsed else 0.0, left)
        RESTORE_REMAINING.set(0)


def _report(done: int, left: int, elapsed: float) -> None:
    rate = done / elapsed if elapsed else 0.0
    eta = left / rate if rate else float("inf")
    log.info("bulk restore: %d records read at %.0f/s, %d left (about %.0f s)", done, rate, left, eta)


def restore_in_bulk(app: Any, kafka: KafkaClient) -> None:
    """Make Faust's recovery bulk-read each changelog partition it is about to
    recover, once it knows where the local copy ends."""
    recovery = app.tables.recovery
    build_offsets = recovery._build_offsets
    # Faust gives up a recovery step after broker_request_timeout; what the
    # bulk read has not reached by then Faust's own recovery reads.
    bulk = BulkRestore(kafka, budget_s=0.75 * float(app.conf.broker_request_timeout),
                       group=f"{app.conf.id}-restore")
    lock = asyncio.Lock()

    async def build_offsets_then_restore(consumer: Any, tps: set[TP], destination: Any, title: str) -> None:
        await build_offsets(consumer, tps, destination, title)
        async with lock:
            await _restore(bulk, recovery.tp_to_table, tps, destination)

    recovery._build_offsets = build_offsets_then_restore


async def _restore(bulk: BulkRestore, tables: Mapping[TP, Any], tps: set[TP], destination: Any) -> None:
    partitions = []
    for tp in tps:
        store = tables[tp].data  # a CheckpointedStore: the app's store for every table
        # opened here, on the loop: Faust's store keeps its open DBs in a dict
        partitions.append(Partition(tp, store, store._db_for_partition(tp.partition), destination[tp] + 1))
    if not partitions:
        return
    stop = threading.Event()
    work = asyncio.ensure_future(asyncio.to_thread(bulk.run, partitions, stop))
    try:
        await asyncio.shield(work)
    except asyncio.CancelledError:
        stop.set()  # a new rebalance: finish the batch in hand, then give way
        await asyncio.wait([work])
        raise
    except Exception:  # Faust's recovery reads whatever this did not
        log.warning("bulk restore stopped; Faust's recovery reads the rest", exc_info=True)
    finally:
        for part in partitions:
            destination[part.tp] = part.next_offset - 1
