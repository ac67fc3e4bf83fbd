"""schemas.catalog invariants, and that no other module types a topic name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec
from orderflow.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
SCANNED_DIRS = ("agents", "bench", "gateway", "tables", "core")
APP_ID = "shop"
SCHEMAS = Codec().schemas


def test_topic_names_are_unique():
    names = [t.name for t in catalog.all_topics(APP_ID) + catalog.BENCH_TOPICS]
    assert len(names) == len(set(names))


def test_schema_ids_are_unique():
    assert len(set(catalog.SCHEMA_IDS.values())) == len(catalog.SCHEMA_IDS)


@pytest.mark.parametrize("schema", sorted({s for t in catalog.TOPICS for s in t.value_schemas}
                                          | {t.value_schema for t in catalog.TABLES}))
def test_every_topic_and_table_schema_is_loaded_and_has_an_id(schema):
    assert schema in SCHEMAS
    assert schema in catalog.SCHEMA_IDS


def test_every_table_reads_a_catalog_topic():
    for spec in catalog.TABLES:
        assert catalog.topic(spec.source_topic).name == spec.source_topic


def test_changelog_names_match_the_ones_faust_uses():
    import faust

    app = faust.App(APP_ID, autodiscover=False)
    for spec in catalog.TABLES:
        table = app.Table(spec.name, key_type=bytes, value_type=bytes)
        assert catalog.changelog_topic(APP_ID, spec.name) == table.changelog_topic.get_topic_name()
    assert catalog.changelog_topic(APP_ID, "orders") == "shop-orders-changelog"


def test_all_topics_has_a_compacted_changelog_per_table_store_partitioned_like_its_source():
    by_name = {t.name: t for t in catalog.all_topics(APP_ID)}
    for spec in catalog.TABLES:
        changelog = by_name[catalog.changelog_topic(APP_ID, spec.store)]
        assert changelog.compacted
        assert changelog.partitions == catalog.topic(spec.source_topic).partitions
        assert spec.value_schema in changelog.value_schemas
    assert catalog.changelog_topic(APP_ID, "reservations") not in by_name
    assert by_name[catalog.changelog_topic(APP_ID, "stock")].value_schemas == (
        catalog.STOCK_TABLE.value_schema, catalog.RESERVATIONS_TABLE.value_schema)
    assert set(catalog.TOPICS) <= set(by_name.values())


def test_a_table_stored_in_another_is_written_by_the_same_agent_from_the_same_source():
    for spec in catalog.TABLES:
        if spec.stored_in is not None:
            store = catalog.table(spec.stored_in)
            assert store.stored_in is None
            assert (spec.writer, spec.source_topic) == (store.writer, store.source_topic)


def test_lookups_of_unknown_names_raise_key_error():
    with pytest.raises(KeyError):
        catalog.topic("orders.command")
    with pytest.raises(KeyError):
        catalog.table("order")


def topic_literals(path: Path, names: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {node.value!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names]


def test_no_topic_name_is_typed_outside_the_catalog():
    app_id = Settings.model_fields["app_id"].default
    names = ({t.name for t in catalog.all_topics(app_id)} | {t.name for t in catalog.all_topics(APP_ID)}
             | {t.name for t in catalog.BENCH_TOPICS})
    files = [p for d in SCANNED_DIRS for p in sorted((REPO_ROOT / d).rglob("*.py"))]
    assert len(files) > 10, "the scan found almost no source files; is REPO_ROOT right?"
    found = [hit for path in files for hit in topic_literals(path, names)]
    assert found == [], "use orderflow.schemas.catalog instead of typing topic names:\n" + "\n".join(found)
