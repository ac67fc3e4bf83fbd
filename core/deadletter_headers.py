"""The names of the headers a dead letter carries, declared once.

Consumes and produces nothing; owns the names. ``agents/runtime/handling.py`` writes
the first four on every dead letter; ``deadletters`` (``orderflow dlq``)
reads them back, strips every header under ``PREFIX`` from a replay, and
writes ``REPLAYED_FROM`` on it. These are wire names: operators' tools and
dead letters already on a topic read them, so they never change.
"""

from __future__ import annotations

__all__ = ["PREFIX", "REASON", "REPLAYED_FROM", "SOURCE_OFFSET", "SOURCE_PARTITION", "SOURCE_TOPIC"]

PREFIX = "x-orderflow-"
REASON = "x-orderflow-reason"  # why it could not be handled, e.g. "undecodable: ..."
SOURCE_TOPIC = "x-orderflow-source-topic"
SOURCE_PARTITION = "x-orderflow-source-partition"
SOURCE_OFFSET = "x-orderflow-source-offset"
REPLAYED_FROM = "x-orderflow-replayed-from"  # on a replay: the dead letter's "partition:offset"
