"""Table rows reach RocksDB only at a checkpoint, after the flush that
acknowledges their changelog records; reads see them at once. Against Faust's
real app, table and RocksDB store (no broker: the flush is the only I/O)."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from faust.streams import _current_event
from faust.types import TP

from orderflow.agents.runtime.checkpoints import STORE_URL, CheckpointedStore, checkpoint_on_flush
from orderflow.agents.runtime.durability import DurableApp


class Producer:
    """Stands in for Faust's producer: a flush that can run code while it waits."""

    def __init__(self) -> None:
        self.during_flush: list[Any] = []

    async def flush(self) -> None:
        await asyncio.sleep(0)
        while self.during_flush:
            self.during_flush.pop(0)()


@pytest.fixture
def app(tmp_path: Path) -> DurableApp:
    return DurableApp("checkpoint-test", store=STORE_URL, datadir=str(tmp_path), web_enabled=False)


def store_of(app: DurableApp, name: str = "rows") -> CheckpointedStore:
    table = app.Table(name, key_type=bytes, value_type=bytes, partitions=2)
    store = table.data
    assert isinstance(store, CheckpointedStore)
    return store


def changelog(store: CheckpointedStore, partition: int) -> TP:
    return TP(store.table.changelog_topic_name, partition)


class Event:
    def __init__(self, partition: int) -> None:
        self.message = SimpleNamespace(partition=partition)


def in_event(partition: int) -> Iterator[None]:
    event = Event(partition)
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


def write(store: CheckpointedStore, partition: int, key: bytes, value: bytes | None) -> None:
    for _ in in_event(partition):
        if value is None:
            store._del(key)
        else:
            store._set(key, value)


def read(store: CheckpointedStore, partition: int, key: bytes) -> bytes | None:
    for _ in in_event(partition):
        return store._get(key)
    raise AssertionError


def on_disk(store: CheckpointedStore, partition: int, key: bytes) -> bytes | None:
    return store._db_for_partition(partition).get(key)


def flushing(app: DurableApp) -> Producer:
    producer = Producer()
    checkpoint_on_flush(SimpleNamespace(producer=producer), app.checkpoints)
    return producer


def test_a_write_is_read_at_once_and_reaches_rocksdb_with_its_offset_at_the_checkpoint(app: DurableApp) -> None:
    store = store_of(app)
    producer = flushing(app)
    write(store, 0, b"k", b"v1")
    store.set_persisted_offset(changelog(store, 0), 41)
    assert read(store, 0, b"k") == b"v1"
    assert on_disk(store, 0, b"k") is None and store.persisted_offset(changelog(store, 0)) is None
    asyncio.run(producer.flush())
    assert on_disk(store, 0, b"k") == b"v1"
    assert store.persisted_offset(changelog(store, 0)) == 41
    assert read(store, 0, b"k") == b"v1"


def test_what_is_written_or_acknowledged_during_the_flush_waits_for_the_next_checkpoint(app: DurableApp) -> None:
    store = store_of(app)
    producer = flushing(app)
    write(store, 0, b"early", b"1")
    store.set_persisted_offset(changelog(store, 0), 10)
    producer.during_flush.append(lambda: write(store, 0, b"late", b"2"))
    producer.during_flush.append(lambda: store.set_persisted_offset(changelog(store, 0), 11))
    asyncio.run(producer.flush())
    assert on_disk(store, 0, b"early") == b"1" and on_disk(store, 0, b"late") is None
    assert store.persisted_offset(changelog(store, 0)) == 10
    assert read(store, 0, b"late") == b"2"
    asyncio.run(producer.flush())
    assert on_disk(store, 0, b"late") == b"2"
    assert store.persisted_offset(changelog(store, 0)) == 11


def test_a_crash_before_the_checkpoint_leaves_rocksdb_as_the_changelog_left_it(app: DurableApp,
                                                                                tmp_path: Path) -> None:
    store = store_of(app)
    producer = flushing(app)
    write(store, 1, b"kept", b"acked")
    store.set_persisted_offset(changelog(store, 1), 3)
    asyncio.run(producer.flush())
    write(store, 1, b"kept", b"in flight")
    write(store, 1, b"new", b"in flight")
    store._dbs.clear()  # the process dies: nothing but RocksDB is left

    after = store_of(DurableApp("checkpoint-test", store=STORE_URL, datadir=str(tmp_path), web_enabled=False))
    assert on_disk(after, 1, b"kept") == b"acked" and on_disk(after, 1, b"new") is None
    assert after.persisted_offset(changelog(after, 1)) == 3


def test_a_delete_hides_the_row_at_once_and_removes_it_at_the_checkpoint(app: DurableApp) -> None:
    store = store_of(app)
    producer = flushing(app)
    write(store, 0, b"k", b"v")
    asyncio.run(producer.flush())
    write(store, 0, b"k", None)
    assert read(store, 0, b"k") is None and on_disk(store, 0, b"k") == b"v"
    asyncio.run(producer.flush())
    assert on_disk(store, 0, b"k") is None


def test_a_prefix_scan_sees_rocksdb_and_the_writes_not_yet_checkpointed_of_one_partition(app: DurableApp) -> None:
    store = store_of(app)
    producer = flushing(app)
    for key in (b"a/1", b"a/3", b"b/1", b"a"):
        write(store, 0, key, key.upper())
    write(store, 1, b"a/9", b"other partition")
    asyncio.run(producer.flush())
    write(store, 0, b"a/2", b"A/2")  # pending
    write(store, 0, b"a/3", None)  # a pending delete of a checkpointed row
    assert store.scan(0, b"a/") == [(b"a/1", b"A/1"), (b"a/2", b"A/2")]
    assert store.scan(1, b"a/") == [(b"a/9", b"other partition")]
    assert store.scan(0, b"c/") == [] and store.scan(5, b"a/") == []


def test_an_older_checkpoint_is_never_written_over_a_newer_one(app: DurableApp) -> None:
    store = store_of(app)
    checkpoints = app.checkpoints
    write(store, 0, b"k", b"old")
    older = checkpoints.seal()
    write(store, 0, b"k", b"new")
    newer = checkpoints.seal()
    checkpoints.write_through(newer)  # the later flush returned first: it covers the older one
    checkpoints.write_through(older)
    assert on_disk(store, 0, b"k") == b"new" and read(store, 0, b"k") == b"new"


def test_a_revoked_partition_forgets_what_it_did_not_checkpoint(app: DurableApp) -> None:
    store = store_of(app)
    producer = flushing(app)
    write(store, 0, b"mine", b"v")
    write(store, 1, b"gone", b"v")
    store.set_persisted_offset(changelog(store, 1), 7)
    store.revoke_partitions(store.table, {changelog(store, 1)})
    asyncio.run(producer.flush())
    assert on_disk(store, 0, b"mine") == b"v"
    assert on_disk(store, 1, b"gone") is None and store.persisted_offset(changelog(store, 1)) is None
    assert read(store, 1, b"gone") is None


def test_recovered_records_go_straight_to_rocksdb_with_their_offset(app: DurableApp) -> None:
    store = store_of(app)
    records = [SimpleNamespace(message=SimpleNamespace(partition=1, offset=o, key=b"k%d" % o, value=b"v"))
               for o in range(5, 8)]
    records.append(SimpleNamespace(message=SimpleNamespace(partition=1, offset=8, key=b"k5", value=None)))
    store.apply_changelog_batch(records, None, None)
    assert [on_disk(store, 1, b"k%d" % o) for o in range(5, 8)] == [None, b"v", b"v"]
    assert store.persisted_offset(changelog(store, 1)) == 8
