"""The typed mirrors of the Avro schemas (schemas/messages.py) are in step
with the .avsc files: a field renamed, added or retyped in a schema fails
here until ``make messages`` regenerates them, and mypy then fails every
use of the old shape."""

from __future__ import annotations

import copy
import typing
from pathlib import Path

import pytest

from orderflow.schemas import messages
from orderflow.schemas.typegen import render, schema_files


def test_messages_module_is_generated_from_the_schemas():
    checked_in = Path(messages.__file__).read_text()
    assert checked_in == render(), "schemas/messages.py is stale: run `make messages`"


def test_a_renamed_field_is_caught():
    schemas = copy.deepcopy(schema_files())
    schemas["PlaceOrder"]["fields"][0]["name"] = "orderIdentifier"
    assert render(schemas.values()) != Path(messages.__file__).read_text()


def test_every_record_schema_has_a_typed_mirror_with_its_fields():
    for name, avro in schema_files().items():
        mirror = getattr(messages, name)
        hints = typing.get_type_hints(mirror, include_extras=True)
        assert list(hints) == [f["name"] for f in avro["fields"]], name


def test_fields_with_a_default_may_be_left_out_by_a_writer():
    avro = schema_files()["OrderState"]
    defaulted = {f["name"] for f in avro["fields"] if "default" in f}
    assert messages.OrderState.__optional_keys__ == defaulted
    assert messages.OrderState.__required_keys__ == {f["name"] for f in avro["fields"]} - defaulted


def test_one_name_means_one_shape():
    schemas = copy.deepcopy(schema_files())
    line = schemas["OrderState"]["fields"][3]["type"]["items"]
    clash = copy.deepcopy(line)
    clash["fields"] = clash["fields"][:1]
    schemas["PlaceOrder"]["fields"].append({"name": "extra", "type": clash})
    with pytest.raises(ValueError, match="two different Avro types are named OrderStateLine"):
        render(schemas.values())
