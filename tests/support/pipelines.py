"""A stand-in for ``agents.app.Pipeline`` for unit tests of one agent's
handler: real Rows over in-memory tables, the real codec, and an outbox that
records what it is given (no Faust app, no broker)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from orderflow.agents.rows import Rows
from orderflow.agents.watchers import Watchers
from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec


def fake_pipeline(outbox: Any, settings: Any, tables: dict[str, Any] | None = None) -> Any:
    """``tables`` by name (each a dict, or a stand-in for a windowed table);
    every other catalog table starts empty."""
    codec = Codec()
    held: dict[str, Any] = {spec.name: {} for spec in catalog.TABLES}
    held.update(tables or {})
    return SimpleNamespace(
        codec=codec, settings=settings, outbox=outbox, watchers=Watchers(), tables=held,
        rows=lambda spec, row_type, writer=None: Rows(held[spec.name], codec, spec, row_type, writer),
        outbox_for=lambda writer: outbox)
