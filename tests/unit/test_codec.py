"""schemas.codec: Avro round trips, Confluent framing, decode errors and JSON ingress."""

from __future__ import annotations

import contextlib
import json
import struct
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.samples import ADDRESS, SAMPLES

from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec, DecodeError, EncodeError

CODEC = Codec()
COMMANDS = catalog.ORDER_COMMANDS
PLACE_ORDER = "orderflow.v1.PlaceOrder"
JSON = [("content-type", b"application/json")]

# One realistic record per schema; a new .avsc without a sample fails the round trip test.
MINIMAL_COMMAND = {"orderId": "ord_2", "customerId": "cust_2",
                   "items": [{"productId": "sku-9", "quantity": 3}], "paymentMethodId": "pm_1"}


@pytest.mark.parametrize("name", sorted(CODEC.schemas))
def test_every_loaded_schema_round_trips_its_sample(name):
    assert name in SAMPLES, f"add a sample record for {name}"
    decoded = CODEC.decode(CODEC.encode(name, SAMPLES[name]))
    assert (decoded.schema, decoded.record) == (name, SAMPLES[name])


@pytest.mark.parametrize("name", sorted(CODEC.schemas))
def test_encoded_value_starts_with_magic_zero_and_the_catalog_id(name):
    data = CODEC.encode(name, SAMPLES[name])
    assert struct.unpack(">BI", data[:5]) == (0, catalog.SCHEMA_IDS[name])


def framed(schema_id: int, body: bytes = b"", magic: int = 0) -> bytes:
    return struct.pack(">BI", magic, schema_id) + body


VALID = CODEC.encode(PLACE_ORDER, SAMPLES[PLACE_ORDER])


@pytest.mark.parametrize(("data", "reason"), [
    (None, "tombstone"),
    (b"", "too short"),
    (b"\x00\x00\x00\x02", "too short"),
    (framed(2, VALID[5:], magic=1), "magic byte"),
    (framed(999, VALID[5:]), "unknown schema id 999"),
    (VALID[:-3], "corrupt Avro body"),
    (VALID + b"\x00\x00", "2 trailing bytes"),
], ids=["tombstone", "empty", "short", "magic", "unknown-id", "truncated", "trailing"])
def test_decode_rejects_bad_values_with_a_reason(data, reason):
    with pytest.raises(DecodeError) as info:
        CODEC.decode(data)
    assert reason in info.value.reason


@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_nothing_but_decode_error(data):
    with contextlib.suppress(DecodeError):
        CODEC.decode(data)


@given(st.binary(max_size=200))
def test_arbitrary_avro_body_behind_a_valid_header_raises_nothing_but_decode_error(body):
    for schema_id in catalog.SCHEMA_IDS.values():
        with contextlib.suppress(DecodeError):
            CODEC.decode(framed(schema_id, body))


@pytest.mark.parametrize("headers", [
    JSON,
    {"content-type": b"application/json"},
    [("Content-Type", b"application/json")],
    {"CONTENT-TYPE": b"application/json; charset=utf-8"},
], ids=["tuples", "dict", "mixed-case-name", "charset"])
def test_json_value_with_json_content_type_is_read(headers):
    decoded = CODEC.decode_value(json.dumps(MINIMAL_COMMAND).encode(), headers, COMMANDS)
    assert decoded.schema == PLACE_ORDER
    assert decoded.record["items"] == [{"productId": "sku-9", "quantity": 3, "priceCents": None}]


def test_json_filled_with_defaults_equals_avro_decode_of_the_same_record():
    from_json = CODEC.decode_value(json.dumps(MINIMAL_COMMAND).encode(), JSON, COMMANDS)
    from_avro = CODEC.decode_value(CODEC.encode(PLACE_ORDER, MINIMAL_COMMAND), None, COMMANDS)
    assert from_json == from_avro
    assert from_json.record["currency"] == "USD" and from_json.record["placedAt"] == 0


@pytest.mark.parametrize(("change", "field"), [
    ({"items": [{"productId": "sku-9", "quantity": "three"}]}, "quantity"),
    ({"items": [{"productId": "sku-9", "quantity": 1.5}]}, "quantity"),
    ({"currency": 978}, "currency"),
    ({"shippingAddress": {"city": 7}}, "city"),
    ({"paymentMethodId": None}, "paymentMethodId"),
], ids=["str-quantity", "float-quantity", "int-currency", "nested-city", "null-required"])
def test_json_with_a_wrong_type_names_the_field(change, field):
    with pytest.raises(DecodeError) as info:
        CODEC.decode_value(json.dumps({**MINIMAL_COMMAND, **change}).encode(), JSON, COMMANDS)
    assert field in info.value.reason


def test_json_missing_a_required_field_names_the_field():
    command = {k: v for k, v in MINIMAL_COMMAND.items() if k != "customerId"}
    with pytest.raises(DecodeError) as info:
        CODEC.decode_value(json.dumps(command).encode(), JSON, COMMANDS)
    assert "customerId" in info.value.reason


@pytest.mark.parametrize("data", [b"{not json", b"[1, 2]", None], ids=["malformed", "array", "none"])
def test_json_that_is_not_an_object_is_rejected(data):
    with pytest.raises(DecodeError):
        CODEC.decode_value(data, JSON, COMMANDS)


def test_deeply_nested_json_is_rejected_with_decode_error():
    with pytest.raises(DecodeError):
        CODEC.decode_value(b"[" * 100_000, JSON, COMMANDS)


def test_json_on_a_topic_without_json_ingress_is_rejected():
    avro_only = replace(COMMANDS, json_ingress=False)
    with pytest.raises(DecodeError) as info:
        CODEC.decode_value(json.dumps(MINIMAL_COMMAND).encode(), JSON, avro_only)
    assert "does not accept JSON" in info.value.reason


def test_avro_value_of_a_schema_not_allowed_on_the_topic_is_rejected():
    row = CODEC.encode("orderflow.v1.OrderState", SAMPLES["orderflow.v1.OrderState"])
    with pytest.raises(DecodeError) as info:
        CODEC.decode_value(row, None, COMMANDS)
    assert "not allowed on topic" in info.value.reason


def test_json_naming_a_schema_not_allowed_on_the_topic_is_rejected():
    headers = [*JSON, ("schema", b"Address")]
    with pytest.raises(DecodeError) as info:
        CODEC.decode_value(json.dumps(ADDRESS).encode(), headers, COMMANDS)
    assert "not allowed on topic" in info.value.reason


@pytest.mark.parametrize("record", [
    {**SAMPLES[PLACE_ORDER], "items": [{"productId": "sku-1", "quantity": "2"}]},
    {k: v for k, v in SAMPLES[PLACE_ORDER].items() if k != "orderId"},
    {**SAMPLES[PLACE_ORDER], "shippingAddress": "1 Main St"},
], ids=["str-quantity", "missing-orderId", "str-address"])
def test_encode_of_a_bad_record_raises_encode_error(record):
    with pytest.raises(EncodeError):
        CODEC.encode(PLACE_ORDER, record)


def test_encode_of_a_long_beyond_64_bits_raises_encode_error():
    with pytest.raises(EncodeError):
        CODEC.encode(PLACE_ORDER, {**MINIMAL_COMMAND, "placedAt": 2**63})


def test_json_quantity_beyond_int32_is_rejected_naming_the_field():
    # encode() trusts its callers (the agents write rows they built); every
    # outside value comes through from_json or the gateway's bounds instead.
    record = {**MINIMAL_COMMAND, "items": [{"productId": "sku-9", "quantity": 2**31}]}
    with pytest.raises(DecodeError, match="quantity"):
        CODEC.from_json(PLACE_ORDER, record)


def test_encode_with_an_unknown_schema_raises_encode_error():
    with pytest.raises(EncodeError):
        CODEC.encode("orderflow.v1.Nope", {})
