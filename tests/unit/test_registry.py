"""schemas.registry against a small in-process stand-in for Confluent Schema Registry.

The stand-in implements only what SchemaRegistryClient.register_schema and
get_schema call (POST /subjects/{subject}/versions, GET /schemas/ids/{id})
and, like the real registry, rejects a schema that does not parse on its own
(so a reference left un-inlined fails).
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import fastavro
import pytest
from aiohttp import web

from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec, DecodeError, load_schemas
from orderflow.settings import Settings

pytest.importorskip("confluent_kafka.schema_registry", reason="needs confluent-kafka[schemaregistry]")

from orderflow.schemas.registry import codec_for, register_all

FIRST_ID = 101  # unlike any catalog id, so a codec that ignores the registry shows


@dataclass
class FakeRegistry:
    ids: dict[str, int] = field(default_factory=dict)  # schema text -> id
    subjects: dict[str, list[str]] = field(default_factory=dict)  # subject -> schema texts
    calls: list[str] = field(default_factory=list)

    async def register(self, request: web.Request) -> web.Response:
        self.calls.append(f"{request.method} {request.path}")
        body = await request.json()
        text = body["schema"]
        try:
            fastavro.parse_schema(json.loads(text), named_schemas={})
        except Exception as exc:  # noqa: BLE001 - the real registry answers 422 for an invalid schema
            return web.json_response({"error_code": 42201, "message": str(exc)}, status=422)
        schema_id = self.ids.setdefault(text, FIRST_ID + len(self.ids))
        versions = self.subjects.setdefault(request.match_info["subject"], [])
        if text not in versions:
            versions.append(text)
        return web.json_response({"id": schema_id})

    async def schema_by_id(self, request: web.Request) -> web.Response:
        self.calls.append(f"{request.method} {request.path}")
        wanted = int(request.match_info["id"])
        for text, schema_id in self.ids.items():
            if schema_id == wanted:
                return web.json_response({"schema": text})
        return web.json_response({"error_code": 40403, "message": "Schema not found"}, status=404)

    async def not_implemented(self, request: web.Request) -> web.Response:
        self.calls.append(f"{request.method} {request.path}")
        return web.json_response({"error_code": 404, "message": "not in the fake"}, status=404)


@pytest.fixture
def registry() -> Iterator[tuple[str, FakeRegistry]]:
    """The fake registry served from a background thread on 127.0.0.1."""
    fake = FakeRegistry()
    app = web.Application()
    app.add_routes([web.post("/subjects/{subject}/versions", fake.register),
                    web.get("/schemas/ids/{id}", fake.schema_by_id),
                    web.route("*", "/{tail:.*}", fake.not_implemented)])
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    host, port = runner.addresses[0][:2]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{port}", fake
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.run_until_complete(runner.cleanup())
        loop.close()


def test_register_all_registers_every_schema_under_its_full_name(registry):
    url, fake = registry
    ids = register_all(url, load_schemas())
    assert set(ids) == set(catalog.SCHEMA_IDS)
    assert sorted(fake.subjects) == sorted(catalog.SCHEMA_IDS)
    assert sorted(ids.values()) == list(range(FIRST_ID, FIRST_ID + len(ids)))
    assert all(call.startswith("POST /subjects/") for call in fake.calls)


def test_registering_again_returns_the_same_ids(registry):
    url, fake = registry
    first = register_all(url, load_schemas())
    second = register_all(url, load_schemas())
    assert second == first
    assert all(len(versions) == 1 for versions in fake.subjects.values())


def test_codec_with_registry_ids_round_trips_and_frames_the_registry_id(registry):
    url, _ = registry
    codec = codec_for(Settings(schema_registry_url=url))
    record = {"orderId": "o-1", "customerId": "c-1", "items": [{"productId": "p-1", "quantity": 2}],
              "paymentMethodId": "pm-1"}
    name = catalog.ORDER_COMMANDS.default_schema
    data = codec.encode(name, record)
    assert int.from_bytes(data[1:5], "big") == codec.schema_id(name) >= FIRST_ID
    assert codec.decode(data).record == Codec().decode(Codec().encode(name, record)).record


def test_registered_schema_reads_what_the_codec_writes(registry):
    url, fake = registry
    register_all(url, load_schemas())
    [text] = fake.subjects["orderflow.v1.OrderState"]
    standalone = fastavro.parse_schema(json.loads(text), named_schemas={})
    row = {"orderId": "o-1", "customerId": "c-1", "status": "pending", "items": [],
           "paymentMethodId": "pm-1",
           "shippingAddress": {"street": "1 Main St", "city": "Springfield", "state": "IL",
                               "zipCode": "62701", "country": "US"},
           "history": [{"status": "pending", "at": 5}], "createdAt": 5, "updatedAt": 5}
    data = Codec().encode("orderflow.v1.OrderState", row)
    body = io.BytesIO(data[5:])
    assert fastavro.schemaless_reader(body, standalone, None) == Codec().decode(data).record


def test_codec_for_without_registry_url_uses_catalog_ids():
    codec = codec_for(Settings(schema_registry_url=""))
    assert {name: codec.schema_id(name) for name in codec.schemas} == catalog.SCHEMA_IDS


def _register_raw(url: str, subject: str, schema: dict) -> int:
    from confluent_kafka.schema_registry import Schema as RegistrySchema
    from confluent_kafka.schema_registry import SchemaRegistryClient

    with SchemaRegistryClient({"url": url}) as client:
        return client.register_schema(subject, RegistrySchema(json.dumps(schema), "AVRO"))


def _framed(schema_id: int, schema: dict, record: dict) -> bytes:
    out = io.BytesIO()
    out.write(b"\x00" + schema_id.to_bytes(4, "big"))
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema, named_schemas={}), record)
    return out.getvalue()


def test_another_writers_newer_version_is_resolved_in_the_registry_and_read_as_ours(registry):
    url, fake = registry
    codec = codec_for(Settings(schema_registry_url=url))
    name = catalog.ORDER_COMMANDS.default_schema
    ours = json.loads(register_all_texts(fake)[name])
    newer = {**ours, "fields": [*ours["fields"], {"name": "salesChannel", "type": "string", "default": "web"}]}
    newer_id = _register_raw(url, name, newer)
    record = {"orderId": "o-9", "customerId": "c-9", "items": [{"productId": "p-1", "quantity": 2}],
              "paymentMethodId": "pm-1", "salesChannel": "store"}
    decoded = codec.decode(_framed(newer_id, newer, record))
    assert newer_id != codec.schema_id(name)
    assert decoded.schema == name
    assert "salesChannel" not in decoded.record
    assert (decoded.record["orderId"], decoded.record["items"][0]["quantity"]) == ("o-9", 2)
    assert decoded.record == codec.decode(codec.encode(name, decoded.record)).record
    assert fake.calls.count(f"GET /schemas/ids/{newer_id}") == 1
    codec.decode(_framed(newer_id, newer, record))
    assert fake.calls.count(f"GET /schemas/ids/{newer_id}") == 1, "the id was looked up again"


def test_an_id_the_registry_does_not_know_is_a_decode_error_naming_it(registry):
    url, _ = registry
    codec = codec_for(Settings(schema_registry_url=url))
    with pytest.raises(DecodeError, match="unknown schema id 9999"):
        codec.decode(b"\x00" + (9999).to_bytes(4, "big") + b"\x02")


def register_all_texts(fake: FakeRegistry) -> dict[str, str]:
    """Each subject's registered schema text (what codec_for registered)."""
    return {subject: versions[-1] for subject, versions in fake.subjects.items()}
