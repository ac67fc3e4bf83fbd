"""Typed access to a Faust table whose keys are raw bytes and whose values are
Avro-framed rows (so changelogs are Avro like every other topic)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from orderflow.schemas.codec import Codec

if TYPE_CHECKING:
    import faust

__all__ = ["Rows"]


class Rows:
    def __init__(self, table: faust.Table, codec: Codec, schema: str) -> None:
        self.table = table
        self._codec = codec
        self._schema = schema

    def get(self, key: bytes) -> dict[str, Any] | None:
        raw = self.table.get(key)
        return None if raw is None else self._codec.decode(raw).record

    def put(self, key: bytes, row: dict[str, Any]) -> None:
        self.table[key] = self._codec.encode(self._schema, row)

    def delete(self, key: bytes) -> None:
        if key in self.table:
            del self.table[key]

    def items(self) -> Iterator[tuple[bytes, dict[str, Any]]]:
        """This worker's active partitions only (Faust iterates those)."""
        for key, raw in self.table.items():
            yield key, self._codec.decode(raw).record
