"""The documentation's generated blocks: what the catalog writes into README.md
and docs/architecture.md, between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``.

Consumes the catalog (and, for the README's partition column, the settings
docker-compose runs with); produces markdown. ``python -m orderflow.docs
[ROOT]`` (``make docs``) rewrites the blocks in place; the unit tests compare
them, so a catalog change that the docs lack fails until this is run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from orderflow.schemas import catalog
from orderflow.settings import Settings
from orderflow.topics import catalog_markdown

__all__ = ["BLOCKS", "block", "refresh", "topic_and_table_map"]

APP_ID = "orderflow"  # the changelog names the docs show are those of the default app id
COMPOSE_PARTITIONS = 12  # what docker-compose creates, as the README says


def _short(schema: str) -> str:
    return schema.rsplit(".", 1)[-1]


def _topic_rows() -> list[str]:
    rows = ["| topic | key | value schemas | writer | what it carries |", "|---|---|---|---|---|"]
    for spec in catalog.TOPICS:
        schemas = ", ".join(_short(s) for s in spec.value_schemas) or "(any)"
        rows.append(f"| `{spec.name}` | {spec.key} | {schemas} | {spec.writer} | {spec.doc} |")
    return rows


def _table_rows() -> list[str]:
    rows = ["| table | key | row schema | writer | fed from | changelog | what it holds |",
            "|---|---|---|---|---|---|---|"]
    for spec in catalog.TABLES:
        changelog = f"`{catalog.changelog_topic(APP_ID, spec.store)}`"
        if spec.stored_in is not None:
            changelog += f" (stored in `{spec.stored_in}`)"
        rows.append(f"| `{spec.name}` | {spec.key} | {_short(spec.value_schema)} | {spec.writer} | "
                    f"`{spec.source_topic}` | {changelog} | {spec.doc} |")
    return rows


def topic_and_table_map() -> str:
    """docs/architecture.md's map: every topic and every table of the catalog."""
    return "\n".join(["**Topics**", "", *_topic_rows(), "", "**Tables**", "", *_table_rows()])


def _readme_topics() -> str:
    return catalog_markdown(Settings(_env_file=None, app_id=APP_ID, partitions=COMPOSE_PARTITIONS))


# (file relative to the repository root, block name, what the block holds)
BLOCKS: tuple[tuple[str, str, Callable[[], str]], ...] = (
    ("README.md", "catalog", _readme_topics),
    ("docs/architecture.md", "catalog-map", topic_and_table_map),
)


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->\n", f"\n<!-- {name}:end -->"


def block(text: str, name: str) -> str:
    """The content of block ``name`` in ``text``."""
    start, end = _markers(name)
    return text.split(start, 1)[1].split(end, 1)[0]


def _replaced(text: str, name: str, content: str) -> str:
    start, end = _markers(name)
    head, rest = text.split(start, 1)
    return head + start + content + end + rest.split(end, 1)[1]


def refresh(root: Path) -> list[str]:
    """Rewrite every generated block under ``root``; the files that changed."""
    changed = []
    for relative, name, render in BLOCKS:
        path = root / relative
        text = path.read_text()
        new = _replaced(text, name, render())
        if new != text:
            path.write_text(new)
            changed.append(relative)
    return changed


if __name__ == "__main__":
    for changed_file in refresh(Path(sys.argv[1] if len(sys.argv) > 1 else ".")):
        print(f"rewrote {changed_file}")
