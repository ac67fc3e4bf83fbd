"""Wakes long-polling readers when a row changes on this worker (same event
loop as the agents), so a client can read its own write without polling."""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["Watchers"]


class Watchers:
    def __init__(self) -> None:
        self._events: dict[bytes, asyncio.Event] = {}

    def notify(self, key: bytes) -> None:
        event = self._events.pop(key, None)
        if event is not None:
            event.set()

    async def wait(self, key: bytes, timeout: float) -> None:
        """Return when ``key`` changes or ``timeout`` passes, whichever is first."""
        event = self._events.setdefault(key, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
