"""Typed access to a Faust table whose keys are raw bytes and whose values are
Avro-framed rows (so changelogs are Avro like every other topic).

``Rows[OrderState]`` reads and writes ``schemas.messages.OrderState``: the
codec returns plain dicts in the schema's shape, so the type is a view, not
a conversion (tests/unit/test_messages.py keeps the types in step with the
schemas)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from orderflow.schemas.catalog import TableSpec
from orderflow.schemas.codec import Codec

if TYPE_CHECKING:
    import faust

__all__ = ["ReadOnly", "Rows"]

RowT = TypeVar("RowT", bound=Mapping[str, Any])


class ReadOnly(RuntimeError):
    """A component wrote a table the catalog gives to another one (a bug)."""


class Rows(Generic[RowT]):
    """The rows of one table as ``row_type``; ``writer`` (the catalog's
    writer of the table) may write them, anyone else only reads."""

    def __init__(self, table: faust.types.TableT, codec: Codec, spec: TableSpec,
                 row_type: type[RowT], writer: str | None = None) -> None:
        self.table = table
        self._codec = codec
        self._spec = spec
        self._schema = spec.value_schema
        if row_type.__name__ != spec.value_schema.rsplit(".", 1)[-1]:
            raise TypeError(f"table {spec.name} holds {spec.value_schema}, not {row_type.__name__}")
        if writer is not None and writer != spec.writer:
            raise ReadOnly(f"{writer} may not write table {spec.name}: its writer is {spec.writer}")
        self._writable = writer is not None

    def _check_writable(self) -> None:
        if not self._writable:
            raise ReadOnly(f"table {self._spec.name} is read here; only {self._spec.writer} writes it")

    def get(self, key: bytes) -> RowT | None:
        raw = self.table.get(key)
        return None if raw is None else cast(RowT, self._codec.decode(raw).record)

    def put(self, key: bytes, row: RowT) -> None:
        self._check_writable()
        self.table[key] = self._codec.encode(self._schema, row)

    def delete(self, key: bytes) -> None:
        self._check_writable()
        if key in self.table:
            del self.table[key]

    def scan(self, prefix: bytes, partition: int) -> list[tuple[bytes, bytes]]:
        """The encoded rows of partition ``partition`` whose keys start with ``prefix``, in key
        order (read each with ``decode``); the store must be a ``CheckpointedStore``."""
        return cast(Any, self.table.data).scan(partition, prefix)

    def decode(self, raw: bytes) -> RowT:
        return cast(RowT, self._codec.decode(raw).record)

    def items(self) -> Iterator[tuple[bytes, RowT]]:
        """This worker's active partitions only (Faust iterates those), and only this
        table's rows: a store shared with other tables (the stock rows and the
        reservations, ``TableSpec.stored_in``) holds rows of their schemas too."""
        for key, raw in self.table.items():
            if self._codec.schema_of(raw) == self._schema:  # the header alone: others' rows are not decoded
                yield key, cast(RowT, self._codec.decode(raw).record)
