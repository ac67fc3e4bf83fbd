"""The README's topic table is the catalog's, so the docs cannot drift."""

from __future__ import annotations

from pathlib import Path

from orderflow.settings import Settings
from orderflow.topics import catalog_markdown

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_topic_table_matches_the_catalog() -> None:
    text = README.read_text()
    table = text.split("<!-- catalog:start -->\n", 1)[1].split("\n<!-- catalog:end -->", 1)[0]
    assert table == catalog_markdown(Settings(_env_file=None, app_id="orderflow", partitions=12))
