"""The Avro schemas evolve compatibly with the last release's
(``released_schemas/``, the .avsc files as of the release before the seed's
decimal fields): no schema or field removed, every new field with a default,
and each schema's sample written by either version is read by the other
(old data by new readers, new data by readers not yet upgraded, as a
rolling upgrade has both on the topics at once)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import fastavro
import pytest
from support.samples import SAMPLES

from orderflow.schemas.codec import load_schemas

RELEASED_DIR = Path(__file__).parent / "released_schemas"
CURRENT_DIR = Path(__file__).parents[2] / "schemas"


def texts(directory: Path) -> dict[str, str]:
    return {p.name.removesuffix(".avsc"): p.read_text() for p in sorted(directory.glob("*.avsc"))}


RELEASED = load_schemas(texts(RELEASED_DIR))
CURRENT = load_schemas()


def fields_of(schema: Any, path: str = "") -> dict[str, dict[str, Any]]:
    """Every field of every record inside ``schema`` (raw JSON), by its dotted path."""
    found: dict[str, dict[str, Any]] = {}
    if isinstance(schema, list):
        for branch in schema:
            found.update(fields_of(branch, path))
    elif isinstance(schema, dict):
        if schema.get("type") == "record":
            for field in schema["fields"]:
                found[f"{path}{field['name']}"] = field
                found.update(fields_of(field["type"], f"{path}{field['name']}."))
        elif schema.get("type") == "array":
            found.update(fields_of(schema["items"], path))
        elif schema.get("type") == "map":
            found.update(fields_of(schema["values"], path))
    return found


def round_trip(record: dict[str, Any], writer: Any, reader: Any) -> dict[str, Any]:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, writer, record)
    buffer.seek(0)
    return fastavro.schemaless_reader(buffer, writer, reader)  # type: ignore[no-any-return]


def test_the_release_is_there_and_nothing_it_had_was_removed() -> None:
    assert len(RELEASED) >= 50
    assert set(RELEASED) <= set(CURRENT)


@pytest.mark.parametrize("short", sorted(texts(RELEASED_DIR)))
def test_every_field_added_since_the_release_has_a_default_and_none_was_removed(short: str) -> None:
    before = fields_of(json.loads((RELEASED_DIR / f"{short}.avsc").read_text()))
    now = fields_of(json.loads((CURRENT_DIR / f"{short}.avsc").read_text()))
    assert set(before) <= set(now), f"removed: {sorted(set(before) - set(now))}"
    assert [path for path in set(now) - set(before) if "default" not in now[path]] == []


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_data_of_either_version_is_read_by_the_other(name: str) -> None:
    sample = SAMPLES[name]
    old, new = RELEASED[name], CURRENT[name]
    as_released = round_trip(sample, old, old)  # the sample as the release wrote and read it
    read_by_new = round_trip(sample, old, new)  # written before the upgrade
    assert round_trip(read_by_new, new, old) == as_released  # nothing it said was lost
    read_by_old = round_trip(sample, new, old)  # written after it, read by a worker not yet upgraded
    assert read_by_old == as_released


def test_the_check_fails_on_an_added_field_without_a_default() -> None:
    broken = json.loads((CURRENT_DIR / "PriceUpdated.avsc").read_text())
    broken["fields"].append({"name": "region", "type": "string"})
    before = fields_of(json.loads((RELEASED_DIR / "PriceUpdated.avsc").read_text()))
    added = set(fields_of(broken)) - set(before)
    assert [path for path in added if "default" not in fields_of(broken)[path]] == ["region"]
    with pytest.raises(fastavro.read.SchemaResolutionError):  # old data has no region: a new reader cannot fill it
        round_trip(SAMPLES["orderflow.v1.PriceUpdated"], RELEASED["orderflow.v1.PriceUpdated"],
                   fastavro.parse_schema(broken))
