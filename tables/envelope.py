"""The seeds' event envelope, written once: every event on an events topic is
``{eventId, eventType, timestamp, version, data}``.

Pure; owns the envelope's shape and version. ``eventId`` is chosen by the
caller from what caused the event, so a re-sent event carries the same id
and consumers drop the repeat.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["ENVELOPE_VERSION", "Event", "envelope"]

ENVELOPE_VERSION = "1.0"
Event = tuple[str, dict[str, Any]]  # (schema short name, record)


def envelope(kind: str, event_id: str, timestamp: str, data: Mapping[str, Any]) -> Event:
    """Event ``kind`` (its schema's short name) around ``data``; ``timestamp`` is ISO-8601 UTC."""
    return kind, {"eventId": event_id, "eventType": kind, "timestamp": timestamp,
                  "version": ENVELOPE_VERSION, "data": dict(data)}
