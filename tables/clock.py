"""Time as the state and the events carry it: epoch milliseconds, and their
ISO-8601 UTC text in event envelopes and API answers. Pure."""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ["iso", "now_ms"]


def now_ms() -> int:
    return int(time.time() * 1000)


def iso(ms: int) -> str:
    """Epoch milliseconds as ISO-8601 in UTC, e.g. 2026-11-22T10:00:00.000Z."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
