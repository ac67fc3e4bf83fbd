"""The Avro codec of every topic value: fastavro schemaless records behind the
Confluent wire framing (magic byte 0, 4-byte big-endian schema id, body).

Owns: loading the .avsc files (once), encoding and decoding, and the JSON
ingress path (a value with header ``content-type: application/json`` is read as
JSON, checked against the topic's schema and normalised to the Avro shape).
Consumes nothing and opens no connection; ids come from the caller (the
catalog's checked-in ids, or ``registry.register_all``). A value framed with
an id the codec does not know is resolved through the optional ``resolve``
callable (the registry's schema by id), read with that writer schema and
projected onto the codec's own schema of the same name (Avro schema
resolution), so another writer's compatible version reads as ours.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import fastavro
import fastavro.validation
from fastavro.types import Schema

from orderflow.schemas.catalog import SCHEMA_IDS, SHARED_SCHEMAS, TopicSpec

__all__ = ["Codec", "DecodeError", "Decoded", "EncodeError", "load_schemas"]

MAGIC = 0
HEADER = struct.Struct(">BI")
JSON_CONTENT_TYPE = b"application/json"
Headers = Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None


MAX_REASON = 300


class DecodeError(ValueError):
    """A value could not be read; ``reason`` is short and fit for a header."""

    def __init__(self, reason: str) -> None:
        reason = reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 3] + "..."
        super().__init__(reason)
        self.reason = reason


class EncodeError(ValueError):
    """A record does not match the schema it is written with."""


@dataclass(frozen=True, slots=True)
class Decoded:
    schema: str
    record: dict[str, Any]


def load_schemas(files: Mapping[str, str] | None = None) -> dict[str, Schema]:
    """Parse every packaged .avsc once (or ``files``, short name -> text: an
    earlier release's, for the compatibility test), shared (referenced) schemas first.

    Each schema knows the shared schemas and its own named types, not every
    type parsed before it: fastavro copies a schema's named types on every
    read and write, and with one registry for all of them that was some 70
    entries per call, about half the cost of encoding an order row.
    """
    if files is None:
        files = {
            p.name.removesuffix(".avsc"): p.read_text()
            for p in resources.files("orderflow.schemas").iterdir()
            if p.name.endswith(".avsc")
        }
    shared: dict[str, Any] = {}
    parsed: dict[str, Schema] = {}
    for short in sorted(files, key=lambda n: (f"orderflow.v1.{n}" not in SHARED_SCHEMAS, n)):
        is_shared = f"orderflow.v1.{short}" in SHARED_SCHEMAS
        # shared schemas go into the common registry; the others into a copy of it
        named = shared if is_shared else dict(shared)
        schema = fastavro.parse_schema(json.loads(files[short]), named_schemas=named)
        if not isinstance(schema, dict):
            raise ValueError(f"{short}.avsc is not a record schema")
        parsed[schema["name"]] = schema
    return parsed


def _headers_get(headers: Headers, name: str) -> bytes | None:
    if not headers:
        return None
    items = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in items:
        if key.lower() == name:
            return value.encode() if isinstance(value, str) else value
    return None


def _is_json(content_type: bytes) -> bool:
    return content_type.split(b";")[0].strip().lower() == JSON_CONTENT_TYPE


class Codec:
    """Encodes and decodes records by fully qualified schema name."""

    def __init__(self, schemas: Mapping[str, Schema] | None = None,
                 ids: Mapping[str, int] | None = None,
                 resolve: Callable[[int], str] | None = None) -> None:
        self._schemas = dict(schemas if schemas is not None else load_schemas())
        self._ids = dict(ids if ids is not None else SCHEMA_IDS)
        missing = [n for n in self._schemas if n not in self._ids]
        if missing:
            raise ValueError(f"schemas without an id: {missing}")
        # id -> (name, writer schema, reader schema or None when they are the same)
        self._by_id: dict[int, tuple[str, Schema, Schema | None]] = {
            self._ids[n]: (n, s, None) for n, s in self._schemas.items()}
        self._resolve = resolve
        self._headers = {n: HEADER.pack(MAGIC, self._ids[n]) for n in self._schemas}

    @property
    def schemas(self) -> Mapping[str, Schema]:
        return self._schemas

    def schema_id(self, name: str) -> int:
        return self._ids[name]

    def encode(self, name: str, record: Mapping[str, Any]) -> bytes:
        """Frame and write ``record`` with schema ``name``."""
        try:
            schema = self._schemas[name]
        except KeyError:
            raise EncodeError(f"unknown schema {name!r}") from None
        out = io.BytesIO()
        out.write(self._headers[name])
        try:
            fastavro.schemaless_writer(out, schema, record)
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
            raise EncodeError(f"{name}: {exc}") from exc
        return out.getvalue()

    def _framing(self, data: bytes) -> tuple[str, Schema, Schema | None]:
        """Name, writer and reader schema a framed Avro value names in its header."""
        if len(data) < HEADER.size:
            raise DecodeError(f"value too short for the Avro framing ({len(data)} bytes)")
        magic, schema_id = HEADER.unpack_from(data)
        if magic != MAGIC:
            raise DecodeError(f"bad magic byte {magic} (not Confluent Avro framing)")
        return self._by_id.get(schema_id) or self._writer_of(schema_id)

    def schema_of(self, data: bytes | None) -> str:
        """The full name of the schema a framed value was written with, from its header alone."""
        if data is None:
            raise DecodeError("empty value (tombstone)")
        return self._framing(data)[0]

    def decode(self, data: bytes | None) -> Decoded:
        """Read a framed Avro value, whatever schema it names."""
        if data is None:
            raise DecodeError("empty value (tombstone)")
        name, writer, reader = self._framing(data)
        body = io.BytesIO(data)
        body.seek(HEADER.size)
        try:
            record = fastavro.schemaless_reader(body, writer, reader)
        except Exception as exc:  # fastavro raises many types on corrupt input
            raise DecodeError(f"corrupt Avro body for {name}: {type(exc).__name__}") from exc
        if body.tell() != len(data):
            raise DecodeError(f"{len(data) - body.tell()} trailing bytes after {name}")
        return Decoded(name, record)  # type: ignore[arg-type]

    def _writer_of(self, schema_id: int) -> tuple[str, Schema, Schema | None]:
        """Name, writer and reader schema of an id only the registry knows (once per id)."""
        if self._resolve is None:
            raise DecodeError(f"unknown schema id {schema_id}")
        try:
            writer = fastavro.parse_schema(json.loads(self._resolve(schema_id)), named_schemas={})
        except Exception as exc:  # a registry that is down or answers 404 for the id
            raise DecodeError(f"unknown schema id {schema_id} ({type(exc).__name__}: {exc})"[:MAX_REASON]) from exc
        name = writer["name"] if isinstance(writer, dict) else str(writer)
        resolved = (name, writer, self._schemas.get(name))
        self._by_id[schema_id] = resolved
        return resolved

    def from_json(self, name: str, record: Any) -> dict[str, Any]:
        """Check a JSON object against schema ``name``; return it in the Avro shape."""
        if not isinstance(record, dict):
            raise DecodeError(f"JSON value must be an object, not {type(record).__name__}")
        try:
            fastavro.validation.validate(record, self._schemas[name], raise_errors=True)
        except fastavro.validation.ValidationError as exc:
            fields = "; ".join(str(e) for e in exc.errors) or str(exc)
            raise DecodeError(f"JSON does not match {name}: {fields}") from exc
        # A write and read fills defaults and drops unknown keys.
        return self.decode(self.encode(name, record)).record

    def decode_value(self, data: bytes | None, headers: Headers, spec: TopicSpec) -> Decoded:
        """Decode a value from topic ``spec``: Avro, or JSON where the topic allows it."""
        content_type = _headers_get(headers, "content-type")
        if content_type is not None and _is_json(content_type):
            if not spec.json_ingress:
                raise DecodeError(f"topic {spec.name} does not accept JSON values")
            decoded = self._decode_json(data, headers, spec)
        else:
            decoded = self.decode(data)
        if decoded.schema not in spec.value_schemas:
            raise DecodeError(f"schema {decoded.schema} is not allowed on topic {spec.name}")
        return decoded

    def _decode_json(self, data: bytes | None, headers: Headers, spec: TopicSpec) -> Decoded:
        try:
            obj = json.loads(data or b"")
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise DecodeError(f"malformed JSON: {exc}") from exc
        wanted = _headers_get(headers, "schema")
        name = spec.default_schema if wanted is None else wanted.decode(errors="replace")
        if "." not in name:
            name = f"{spec.default_schema.rsplit('.', 1)[0]}.{name}"
        if name not in self._schemas:
            raise DecodeError(f"unknown schema {name!r} in the schema header")
        return Decoded(name, self.from_json(name, obj))
