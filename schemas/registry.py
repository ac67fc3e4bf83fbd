"""Optional Confluent Schema Registry support.

Owns: turning the codec's parsed schemas into self-contained schema documents
(every named type a schema uses is defined inline, once, so nothing is
registered with references), registering them under the record's full name
(RecordNameStrategy), choosing where the codec's schema ids come from:
the catalog's checked-in ids when no registry is configured, the registry's
otherwise, and resolving ids the codec does not know (another writer's
version of a schema) to their schema text in the registry. Called once at
process start, never at import; the registry client is imported lazily, so
this module costs nothing when unused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from fastavro.types import Schema

from orderflow.schemas.codec import Codec, load_schemas

if TYPE_CHECKING:
    from orderflow.settings import Settings

__all__ = ["codec_for", "register_all", "schema_text_by_id", "standalone_schema"]

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED = frozenset({"record", "enum", "fixed", "error"})
COMPLEX = NAMED | {"array", "map"}


def _strip(node: Any) -> Any:
    """A copy without fastavro's bookkeeping keys (``__fastavro_parsed`` ...)."""
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if not k.startswith("__")}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def _inline(node: Any, named: Mapping[str, Any], defined: set[str]) -> Any:
    """``node`` with each named type defined at its first use and referenced after."""
    if isinstance(node, str):
        if node in PRIMITIVES or node in defined:
            return node
        if node not in named:
            raise ValueError(f"schema refers to unknown type {node!r}")
        return _inline(_strip(named[node]), named, defined)
    if isinstance(node, list):  # a union
        return [_inline(branch, named, defined) for branch in node]
    out = dict(node)
    if out.get("type") in NAMED:
        defined.add(out["name"])
    if out.get("type") not in COMPLEX:  # e.g. {"type": "long", "logicalType": ...}
        out["type"] = _inline(out["type"], named, defined)
    if "fields" in out:
        out["fields"] = [{**f, "type": _inline(f["type"], named, defined)} for f in out["fields"]]
    if "items" in out:
        out["items"] = _inline(out["items"], named, defined)
    if "values" in out:
        out["values"] = _inline(out["values"], named, defined)
    return out


def standalone_schema(schema: Schema) -> str:
    """The JSON text of a parsed schema with every named type it uses inlined."""
    named = schema.get("__named_schemas", {}) if isinstance(schema, dict) else {}
    return json.dumps(_inline(_strip(schema), named, set()), separators=(",", ":"))


def register_all(url: str, codec_schemas: Mapping[str, Schema]) -> dict[str, int]:
    """Register every schema under its full name; return full name -> registry id.

    Registering an unchanged schema again returns its existing id.
    """
    from confluent_kafka.schema_registry import Schema as RegistrySchema
    from confluent_kafka.schema_registry import SchemaRegistryClient

    ids: dict[str, int] = {}
    with SchemaRegistryClient({"url": url}) as client:
        for name, schema in codec_schemas.items():
            subject = schema["name"] if isinstance(schema, dict) else name
            ids[name] = client.register_schema(subject, RegistrySchema(standalone_schema(schema), "AVRO"))
    return ids


def schema_text_by_id(url: str) -> Callable[[int], str]:
    """Look a schema id up in the registry: its schema text (the codec caches it per id)."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    client = SchemaRegistryClient({"url": url})

    def lookup(schema_id: int) -> str:
        schema = client.get_schema(schema_id)
        if schema.schema_type not in (None, "AVRO"):
            raise ValueError(f"schema {schema_id} is {schema.schema_type}, not Avro")
        if schema.schema_str is None:
            raise ValueError(f"schema {schema_id} has no text")
        return schema.schema_str

    return lookup


def codec_for(settings: Settings) -> Codec:
    """The codec of a process: catalog ids, or the registry's when one is configured,
    and then the registry also resolves ids written by other producers."""
    url = settings.schema_registry_url.strip()
    if not url:
        return Codec()
    schemas = load_schemas()
    return Codec(schemas, ids=register_all(url, schemas), resolve=schema_text_by_id(url))
