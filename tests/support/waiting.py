"""Await a condition with a deadline instead of sleeping a fixed time.

Two forms, each with an explicit test of success: ``eventually`` takes a
condition that answers True or False (anything else is a mistake in the test,
such as a counter that reads 0.0 or an empty list, and raises at once);
``eventually_value`` takes a probe and the predicate its value must meet, and
returns that value.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["eventually", "eventually_value"]

T = TypeVar("T")
POLL_S = 0.05


def eventually(condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Call ``condition`` until it returns True; AssertionError after ``timeout`` seconds."""
    def holds(answer: bool) -> bool:
        if not isinstance(answer, bool):
            raise TypeError(f"the condition for {what!r} answered {answer!r}, not True or False")
        return answer

    eventually_value(condition, holds, timeout, what)


def eventually_value(probe: Callable[[], T], until: Callable[[T], bool], timeout: float = 30.0,
                     what: str = "condition") -> T:
    """Call ``probe`` until ``until`` holds for what it returns, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout}s (last: {value!r})")
        time.sleep(POLL_S)
