"""The query parameters of the worker's table reads (``agents.web``), parsed.

Pure: takes the query string's name/value mapping, returns what the view
does, or raises ``BadQuery``, which the view answers with 400
``invalid_request`` and the exception's text as the message. Imports nothing
from Faust or aiohttp.

- ``long_poll``: ``waitWhileStatus=S1,S2``, ``afterRevision=N`` and
  ``timeout=T`` (seconds, capped at the deployment's ``long_poll_max_s``,
  which is also the default) of GET /orders/{id} and /customers/{id}.
- ``page``: ``page=P`` (1 to 1,000,000, default 1) and ``limit=L`` (1 to
  100, default 20) of GET /customers/{id}/orders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["BadQuery", "LongPoll", "Page", "int_param", "long_poll", "page"]

MAX_PAGE = 1_000_000
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
NumberT = TypeVar("NumberT", int, float)


class BadQuery(ValueError):
    """A query parameter with a bad value; the text is the 400's message."""


@dataclass(frozen=True)
class LongPoll:
    """How long a read may wait, and for what."""

    wait_s: float  # from now until the answer is due (0: do not wait)
    wait_while: frozenset[str] | None  # wait while the row's status is one of these
    after_revision: int | None  # wait until the row's revision is past this

    def must_wait(self, row: Mapping[str, Any] | None) -> bool:
        """Whether ``row`` (None: not there yet) is not yet the answer."""
        if self.wait_while is None and self.after_revision is None:
            return False
        if row is None:
            return True
        if self.wait_while is not None and row["status"] in self.wait_while:
            return True
        return self.after_revision is not None and row["revision"] <= self.after_revision


@dataclass(frozen=True)
class Page:
    page: int
    limit: int


def long_poll(query: Mapping[str, str], max_wait_s: float) -> LongPoll:
    """The long-poll parameters; no ``timeout`` means the longest wait allowed."""
    raw_timeout = query.get("timeout")
    timeout = max_wait_s if raw_timeout is None else min(_number(raw_timeout, "timeout", float), max_wait_s)
    after = query.get("afterRevision")
    after_revision = None if after is None else _number(after, "afterRevision", int)
    statuses = query.get("waitWhileStatus")
    wait_while = None if statuses is None else frozenset(statuses.split(","))
    return LongPoll(wait_s=max(timeout, 0.0), wait_while=wait_while, after_revision=after_revision)


def int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """Integer parameter ``name`` in [low, high]; ``default`` when it is absent."""
    raw = query.get(name)
    if raw is None:
        return default
    value = _number(raw, name, int)
    if not low <= value <= high:
        raise BadQuery(f"{name} must be between {low} and {high}")
    return value


def _number(raw: str, name: str, kind: type[NumberT]) -> NumberT:
    try:
        return kind(raw)
    except ValueError as exc:
        what = "an integer" if kind is int else "a number"
        raise BadQuery(f"{name} must be {what}, not {raw!r}") from exc


def page(query: Mapping[str, str]) -> Page:
    """Which page of a customer's orders, and how many per page."""
    return Page(page=int_param(query, "page", 1, 1, MAX_PAGE),
                limit=int_param(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT))
