"""A stand-in for ``agents.app.Pipeline`` for unit tests of one agent's
handler: real Rows over in-memory tables, the real codec, and an outbox that
records what it is given (no Faust app, no broker)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from orderflow.agents.runtime.rows import Rows
from orderflow.agents.watchers import Watchers
from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec


class RecordingOutbox:
    """Keeps every record sent, as (topic, key, kind, record)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str, Any]] = []

    async def send(self, spec: catalog.TopicSpec, key: str, kind: str, record: Any) -> None:
        self.sent.append((spec.name, key, kind, record))

    @property
    def kinds(self) -> list[str]:
        return [kind for _, _, kind, _ in self.sent]


class Windows:
    """The windowed velocity table's face: one current window per customer."""

    def __init__(self) -> None:
        self.values: dict[str, bytes] = {}

    def __getitem__(self, customer_id: str) -> SimpleNamespace:
        return SimpleNamespace(current=lambda: self.values.get(customer_id))

    def __setitem__(self, customer_id: str, value: bytes) -> None:
        self.values[customer_id] = value


def fake_pipeline(outbox: Any, settings: Any, tables: dict[str, Any] | None = None) -> Any:
    """``tables`` by name (each a dict); the velocity table is ``Windows``
    and every other catalog table starts as an empty dict."""
    codec = Codec()
    held: dict[str, Any] = {spec.name: {} for spec in catalog.TABLES}
    held[catalog.VELOCITY_TABLE.name] = Windows()
    held.update(tables or {})
    return SimpleNamespace(
        codec=codec, settings=settings, outbox=outbox, watchers=Watchers(), tables=held,
        rows=lambda spec, row_type, writer=None: Rows(held[spec.name], codec, spec, row_type, writer),
        outbox_for=lambda writer: outbox)
