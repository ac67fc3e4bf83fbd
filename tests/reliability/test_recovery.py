"""Recovery is bounded by the work since the last commit, not by the size of
the state: two workers whose tables hold a million changelog records, one of
them killed -9 during a stream of orders, comes back reading only the
changelog past its local copy; killed again with its state directory
deleted as well, it restores everything, in bulk. Every invariant is
checked after the stream."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer
from support.chaos import OrderStream, chaos_stack, run_and_check
from support.metrics import sample_value
from support.waiting import eventually

from orderflow.gateway.producer import producer_config
from orderflow.partitioning import partition_for_key
from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec
from orderflow.settings import Settings
from orderflow.stack import DevStack

pytestmark = pytest.mark.chaos

STATE_RECORDS = 1_000_000
RESTORED = "orderflow_restore_records_total"


def seed_reservations(settings: Settings) -> None:
    """A million old reservations in the stock table's changelog, keyed and
    partitioned as the stock agent writes them (products nobody orders now)."""
    topic = catalog.changelog_topic(settings.app_id, catalog.RESERVATIONS_TABLE.store)
    value = Codec().encode(catalog.RESERVATIONS_TABLE.value_schema, {
        "state": "released", "quantity": 1, "unitPriceCents": 100, "reason": None,
        "previousState": "reserved", "history": []})
    # the gateway's producer settings, with bigger batches for a bulk load
    producer = Producer({**producer_config(settings.kafka), "linger.ms": 20, "batch.size": 1 << 20,
                         "queue.buffering.max.messages": 500_000})
    for i in range(STATE_RECORDS):
        product = f"archived_{i % 5000}"
        key = f"{product}/archived_order_{i}/0".encode()
        while True:
            try:
                producer.produce(topic, value, key, partition=partition_for_key(product.encode(),
                                                                                 settings.partitions))
                break
            except BufferError:
                producer.poll(0.05)
        if i % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(120) == 0


@pytest.fixture
def large_state_stack(tmp_path: Path) -> Iterator[DevStack]:
    with chaos_stack(tmp_path, prepare=seed_reservations) as (stack, _kafka):
        yield stack


def restored_by(stack: DevStack, index: int) -> float:
    return sample_value(stack.worker_url(index), RESTORED) or 0.0


def kill_and_restart(stack: DevStack, stream: OrderStream, sent: int, lose_disk: bool) -> tuple[float, float]:
    """Once ``sent`` orders are out, kill -9 worker 0 and restart it (without
    its data directory if ``lose_disk``); seconds to ready, records it restored."""
    eventually(lambda: stream.sent(sent), timeout=60, what="orders flowing")
    stack.kill_worker(0)
    if lose_disk:
        shutil.rmtree(stack.worker_data_dir(0))
    started = time.monotonic()
    stack.restart_worker(0, wait=True)
    ready_after = time.monotonic() - started
    return ready_after, restored_by(stack, 0)


def test_a_killed_worker_reads_only_the_changelog_tail_and_one_without_its_disk_restores_in_bulk(
        large_state_stack: DevStack) -> None:
    # each worker holds every partition, active or standby: all of the state
    assert restored_by(large_state_stack, 0) >= STATE_RECORDS / 2
    seen: dict[str, tuple[float, float]] = {}

    def kill_nine_then_lose_disk(stream: OrderStream) -> int:
        seen["kill"] = kill_and_restart(large_state_stack, stream, 200, lose_disk=False)
        seen["disk"] = kill_and_restart(large_state_stack, stream, 550, lose_disk=True)
        return 2

    run_and_check(large_state_stack, kill_nine_then_lose_disk, count=700, rate=40)
    (ready_s, tail), (full_s, full) = seen["kill"], seen["disk"]
    print(f"kill -9 with {STATE_RECORDS:,} changelog records: ready again after {ready_s:.1f} s, "
          f"{tail:.0f} records restored; without its disk: {full:,.0f} records restored, ready after "
          f"{full_s:.1f} s ({full / full_s:,.0f} records/s including the worker's start)")
    # bounded by the work since the last commit, not by the state
    assert tail < STATE_RECORDS / 20
    assert full >= STATE_RECORDS
