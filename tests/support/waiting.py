"""Await a condition with a deadline instead of sleeping a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["eventually"]

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], timeout: float = 30.0, what: str = "condition") -> T:
    """Call ``probe`` until it returns something other than None (or False)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        result = probe()
        if result is not None and result is not False:
            return result
        last = result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout}s (last: {last!r})")
        time.sleep(0.05)
