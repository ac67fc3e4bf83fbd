"""Where a table read goes: the owner of the key's partition, from the assignment the
group shares (``app.router.table_metadata``: worker URL -> changelog -> partitions)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from orderflow.agents.routing import TableRouter
from orderflow.partitioning import partition_for_key

CHANGELOG = "app-stock-changelog"


def router(assignment: dict[str, dict[str, set[int]]]) -> TableRouter:
    app: Any = SimpleNamespace(router=SimpleNamespace(table_metadata=lambda _name: assignment))
    table: Any = SimpleNamespace(name="stock", changelog_topic=SimpleNamespace(get_topic_name=lambda: CHANGELOG))
    return TableRouter(app, table, partitions=4, timeout_s=1.0)


def test_a_key_is_owned_by_the_worker_holding_its_partition() -> None:
    partition = partition_for_key(b"prod_1", 4)
    owned = router({"http://w1:6066/": {CHANGELOG: {partition}},
                    "http://w2:6066": {CHANGELOG: set(range(4)) - {partition}}})
    assert owned.owner_url(b"prod_1") == "http://w1:6066"
    assert router({}).owner_url(b"prod_1") is None  # nothing assigned yet


def test_the_owners_are_the_workers_holding_any_partition_of_the_table() -> None:
    owned = router({"http://w1:6066/": {CHANGELOG: {0, 1}}, "http://w2:6066": {CHANGELOG: {2, 3}},
                    "http://w3:6066": {CHANGELOG: set(), "other-changelog": {0}}})
    assert owned.owners() == {"http://w1:6066", "http://w2:6066"}
