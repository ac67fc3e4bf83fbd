"""The docs' generated blocks are the catalog's, so the docs cannot drift:
README.md's topic table and docs/architecture.md's topic and table map.
`make docs` rewrites them."""

from __future__ import annotations

from pathlib import Path

import pytest

from orderflow import docs
from orderflow.schemas import catalog

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("relative", "name", "render"), docs.BLOCKS, ids=lambda v: v if isinstance(v, str) else "")
def test_each_generated_block_matches_the_catalog(relative, name, render) -> None:
    assert docs.block((ROOT / relative).read_text(), name) == render(), f"run `make docs` to rewrite {relative}"


def test_the_map_names_every_topic_and_table() -> None:
    text = docs.topic_and_table_map()
    assert all(f"`{spec.name}`" in text for spec in catalog.TOPICS + catalog.TABLES)


def test_refresh_rewrites_only_the_block(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    for relative, name, _ in docs.BLOCKS:
        (tmp_path / relative).write_text(f"before\n<!-- {name}:start -->\nstale\n<!-- {name}:end -->\nafter\n")
    assert docs.refresh(tmp_path) == [relative for relative, _, _ in docs.BLOCKS]
    for relative, name, render in docs.BLOCKS:
        assert (tmp_path / relative).read_text() == (
            f"before\n<!-- {name}:start -->\n{render()}\n<!-- {name}:end -->\nafter\n")
    assert docs.refresh(tmp_path) == []
