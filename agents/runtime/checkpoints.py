"""Local table state that never runs ahead of its changelog.

Faust's RocksDB store writes every ``table[key] = value`` to disk at once,
while its changelog record is still in the producer; a kill -9 in between
leaves a row the changelog never got, so a worker used to discard its whole
state after a crash and restore every table from the changelogs (minutes for
a long history). ``CheckpointedStore`` keeps writes in memory instead, and a
checkpoint writes them to RocksDB only once the broker has acknowledged
their changelog records: the producer flush that every commit runs first is
wrapped (``checkpoint_on_flush``) so that it

1. seals the writes made so far, with the changelog offsets acknowledged so far,
2. waits for the flush (every changelog record sealed is then acknowledged),
3. writes each partition's sealed rows and offset in one RocksDB write batch,
   oldest checkpoint first.

So each partition's RocksDB holds what its changelog holds up to the offset
stored beside the rows (and maybe some acknowledged rows past it), and after
any crash Faust's recovery reads only the changelog past that offset. Reads
see the writes not yet checkpointed first. A revoked partition's pending
writes are dropped: its RocksDB and offset stay consistent, and the next
owner's changelog is the truth.

Pinned to faust-streaming 0.15.3 (``faust.stores.rocksdb.Store``'s private
``_get``/``_set``/``_del``/``_dbs`` and ``Table._on_changelog_sent`` calling
``set_persisted_offset`` once the broker acknowledged a changelog record).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import rocksdict
from faust.stores import STORES
from faust.stores.rocksdb import Store
from faust.streams import current_event
from faust.types import TP

__all__ = ["STORE_URL", "CheckpointedStore", "Checkpoints", "checkpoint_on_flush"]

log = logging.getLogger(__name__)
STORE_URL = "checkpointed://"
STORES.aliases.setdefault("checkpointed", f"{__name__}:CheckpointedStore")

_DELETED = object()  # a pending delete
_ABSENT = object()


@dataclass
class Sealed:
    """One store's writes and acknowledged changelog offsets at one checkpoint."""

    store: CheckpointedStore
    rows: dict[int, dict[bytes, Any]]
    offsets: dict[int, int]


@dataclass
class Checkpoints:
    """The checkpointed stores of one app, and the checkpoints not yet written."""

    stores: list[CheckpointedStore] = field(default_factory=list)
    outstanding: list[list[Sealed]] = field(default_factory=list)

    def seal(self) -> list[Sealed]:
        sealed = [s for s in (store.seal() for store in self.stores) if s is not None]
        self.outstanding.append(sealed)
        return sealed

    def write_through(self, checkpoint: list[Sealed]) -> None:
        """Write ``checkpoint`` and every older one still outstanding, in order:
        a flush that returns has every record sealed before it acknowledged."""
        if not any(c is checkpoint for c in self.outstanding):
            return  # a later flush already wrote it
        while self.outstanding:
            oldest = self.outstanding.pop(0)
            for sealed in oldest:
                sealed.store.write_sealed(sealed)
            if oldest is checkpoint:
                return

    def forget(self, store: CheckpointedStore, partitions: Iterable[int]) -> None:
        partitions = set(partitions)
        for checkpoint in self.outstanding:
            for sealed in checkpoint:
                if sealed.store is store:
                    for partition in partitions:
                        sealed.rows.pop(partition, None)
                        sealed.offsets.pop(partition, None)


def checkpoint_on_flush(app: Any, checkpoints: Checkpoints) -> None:
    """Make every flush of ``app``'s producer a checkpoint of the table stores."""
    producer = app.producer
    flush = producer.flush

    async def flush_and_checkpoint() -> None:
        checkpoint = checkpoints.seal()
        await flush()
        checkpoints.write_through(checkpoint)

    producer.flush = flush_and_checkpoint


class CheckpointedStore(Store):
    """Faust's RocksDB store, with writes held in memory until a checkpoint."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # partition -> key -> value or _DELETED: everything not yet in RocksDB
        self._pending: dict[int, dict[bytes, Any]] = {}
        self._unsealed: dict[int, dict[bytes, Any]] = {}
        self._acked: dict[int, int] = {}
        self._checkpoints: Checkpoints | None = getattr(self.app, "checkpoints", None)
        if self._checkpoints is not None:
            self._checkpoints.stores.append(self)

    # -- checkpoints

    def seal(self) -> Sealed | None:
        if not self._unsealed and not self._acked:
            return None
        sealed = Sealed(self, self._unsealed, self._acked)
        self._unsealed, self._acked = {}, {}
        return sealed

    def write_sealed(self, sealed: Sealed) -> None:
        for partition in set(sealed.rows) | set(sealed.offsets):
            rows = sealed.rows.get(partition, {})
            batch = rocksdict.WriteBatch(raw_mode=True)
            for key, value in rows.items():
                if value is _DELETED:
                    batch.delete(key)
                else:
                    batch.put(key, value)
            offset = sealed.offsets.get(partition)
            if offset is not None:
                batch.put(self.offset_key, str(offset).encode())
            self._db_for_partition(partition).write(batch)
            pending = self._pending.get(partition)
            if pending is None:
                continue
            for key, value in rows.items():
                if pending.get(key, _ABSENT) is value:  # not written again since
                    del pending[key]

    def set_persisted_offset(self, tp: TP, offset: int) -> None:
        # Called once the broker acknowledged a changelog record: the offset is
        # written with the next checkpoint, never before the rows it covers.
        if offset > self._acked.get(tp.partition, -1):
            self._acked[tp.partition] = offset

    def apply_changelog_batch(self, batch: Iterable[Any], to_key: Any, to_value: Any) -> None:
        """Recovery and standby records: already in the changelog, so straight
        to RocksDB, the offset in the same write batch."""
        batches: dict[int, Any] = {}
        offsets: dict[int, int] = {}
        for event in batch:
            msg = event.message
            write = batches.get(msg.partition)
            if write is None:
                write = batches[msg.partition] = rocksdict.WriteBatch(raw_mode=True)
            if msg.value is None:
                write.delete(msg.key)
            else:
                write.put(msg.key, msg.value)
            offsets[msg.partition] = max(msg.offset, offsets.get(msg.partition, -1))
        for partition, write in batches.items():
            write.put(self.offset_key, str(offsets[partition]).encode())
            self._db_for_partition(partition).write(write)

    def restore_batch(self, db: Any, records: list[tuple[bytes, bytes | None, int]]) -> None:
        """Changelog records (key, value or None, offset) of one partition read
        by the bulk restore, in one write batch with the last offset."""
        batch = rocksdict.WriteBatch(raw_mode=True)
        for key, value, _offset in records:
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        batch.put(self.offset_key, str(records[-1][2]).encode())
        db.write(batch)

    # -- the store interface Faust calls

    def _write(self, partition: int, key: bytes, value: Any) -> None:
        self._pending.setdefault(partition, {})[key] = value
        self._unsealed.setdefault(partition, {})[key] = value
        self._key_index[key] = partition

    def _set(self, key: bytes, value: bytes | None) -> None:
        self._write(_writing_partition(), key, value)

    def _del(self, key: bytes) -> None:
        event = current_event()
        if event is not None:
            self._write(event.message.partition, key, _DELETED)
            return
        # Without an event (a windowed table's expiry) Faust deletes locally
        # only, with no changelog record; so does this.
        for pending in self._pending.values():
            pending.pop(key, None)
        for unsealed in self._unsealed.values():
            unsealed.pop(key, None)
        super()._del(key)

    def _pending_value(self, key: bytes) -> Any:
        event = current_event()
        if event is not None and not self.table.is_global and not self.table.use_partitioner:
            pending = self._pending.get(event.message.partition)
            return _ABSENT if pending is None else pending.get(key, _ABSENT)
        for pending in self._pending.values():
            value = pending.get(key, _ABSENT)
            if value is not _ABSENT:
                return value
        return _ABSENT

    def _get(self, key: bytes) -> bytes | None:
        value = self._pending_value(key)
        if value is _ABSENT:
            return super()._get(key)
        return None if value is _DELETED else value

    def _contains(self, key: bytes) -> bool:
        value = self._pending_value(key)
        if value is _ABSENT:
            return super()._contains(key)
        return value is not _DELETED

    def _active_partitions(self) -> Iterator[tuple[int, Any]]:
        actives = self.app.assignor.assigned_actives()
        topic = self.table.changelog_topic.get_topic_name()
        for partition, db in list(self._dbs.items()):
            if self.table.is_global or TP(topic=topic, partition=partition) in actives:
                yield partition, db

    def _iteritems(self) -> Iterator[tuple[bytes, bytes]]:
        for partition, db in self._active_partitions():
            pending = dict(self._pending.get(partition, {}))
            for key, value in self._visible_items(db):
                if key not in pending:
                    yield key, value
            for key, value in pending.items():
                if value is not _DELETED:
                    yield key, value

    def scan(self, partition: int, prefix: bytes) -> list[tuple[bytes, bytes]]:
        """Partition ``partition``'s rows whose keys start with ``prefix``, in key order,
        the writes not yet checkpointed included (a RocksDB seek, not a walk of the table)."""
        found: dict[bytes, bytes] = {}
        db = self._dbs.get(partition)
        if db is not None:
            for key, value in db.items(from_key=prefix):
                if not key.startswith(prefix):
                    break
                found[key] = value
        for key, value in self._pending.get(partition, {}).items():
            if key.startswith(prefix):
                if value is _DELETED:
                    found.pop(key, None)
                else:
                    found[key] = value
        return sorted(found.items())

    def _iterkeys(self) -> Iterator[bytes]:
        for key, _value in self._iteritems():
            yield key

    def _itervalues(self) -> Iterator[bytes]:
        for _key, value in self._iteritems():
            yield value

    def _size(self) -> int:
        return sum(1 for _ in self._iteritems())

    def revoke_partitions(self, table: Any, tps: set[TP]) -> None:
        mine = {tp.partition for tp in tps if tp.topic in table.changelog_topic.topics}
        for partition in mine:
            dropped = len(self._pending.pop(partition, {}))
            self._unsealed.pop(partition, None)
            self._acked.pop(partition, None)
            if dropped:
                log.info("%s[%d] revoked: %d writes not yet checkpointed dropped (the next owner reads the changelog)",
                         self.table_name, partition, dropped)
        if self._checkpoints is not None:
            self._checkpoints.forget(self, mine)
        super().revoke_partitions(table, tps)


def _writing_partition() -> int:
    """The partition of the event whose handler writes to a table now."""
    event = current_event()
    if event is None:
        raise RuntimeError("table writes happen inside an agent's event")
    return event.message.partition
