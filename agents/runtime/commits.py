"""Offsets are committed only past messages an agent handled.

faust-streaming 0.15 can commit past a message no agent handled in four ways,
all seen or read in its consumer and stream:

1. Its stream acks every message it skips: one fetched in an earlier consumer
   generation, or one taken from a queue while flow control is suspended (a
   rebalance or a stop is under way). Agents here turn Faust's acks off and
   ack only after the handler or the dead letter, inside ``handled_ack``;
   any other ack of a source message is refused, and the message is read
   again after the rebalance's seek.
2. It treats a jump in the fetched offsets as a "gap" that the next commit may
   pass. Our source topics are never compacted or transactional, so their
   offsets are contiguous and a jump means messages were dropped: the commit
   here ignores gaps.
3. Its commit accepts acks that start one past the committed offset, so the
   message at the committed offset itself could be passed unhandled.
4. A revoke forgets the committed offset before the last commits of the
   revoked partitions, and an unknown committed offset lets any run of acks
   be committed. Here the last committed offset is remembered, and a
   partition that never had a commit starts from its earliest offset, where
   it is also sought (Faust seeks only partitions with a commit, and one
   without keeps the position of messages fetched and dropped during
   recovery).

The commit moves only over a contiguous run of acked offsets that starts
exactly at the committed offset. A dropped message therefore holds the
commit back instead of being lost; the skip guard and the stall watch
(``watchdog``) turn that into a restart, and Kafka redelivers.

Consumes nothing and produces nothing; owns the consumer's commit points.
"""

from __future__ import annotations

import bisect
import contextlib
import contextvars
import logging
import weakref
from collections.abc import Iterator
from typing import Any

import faust

__all__ = ["commit_only_handled", "handled_ack", "next_commit", "refuse"]

log = logging.getLogger(__name__)
_HANDLED = contextvars.ContextVar("orderflow_handled_ack", default=False)
# Messages an agent dropped unhandled to read them again. Two agents read
# orders.by-customer: the other one's ack must not commit what this one dropped.
_REFUSED: weakref.WeakSet[Any] = weakref.WeakSet()


def refuse(message: Any) -> None:
    """No ack commits ``message``: an agent dropped it, and reads it again after a seek."""
    _REFUSED.add(message)


@contextlib.contextmanager
def handled_ack() -> Iterator[None]:
    """Acks made inside are of messages an agent has dealt with."""
    token = _HANDLED.set(True)
    try:
        yield
    finally:
        _HANDLED.reset(token)


def next_commit(start: int, acked: list[int]) -> tuple[int | None, int]:
    """Where the commit of a partition can move from ``start`` (its committed
    offset, the next one to read), given its sorted acked offsets.

    Returns the new commit offset (None: it cannot move) and how many entries
    at the head of ``acked`` it settles (acks below ``start`` included).
    """
    first = bisect.bisect_left(acked, start)
    end = start
    for offset in acked[first:]:
        if offset != end:
            break
        end += 1
    return (end if end > start else None), first + (end - start)


def commit_only_handled(app: faust.App) -> None:
    """Install the rules above on ``app``'s consumer."""
    consumer: Any = app.consumer  # Faust's concrete Consumer: its internals are what this repairs
    known: dict[Any, int] = {}  # the last commit point of each partition, kept across revokes
    faust_ack = consumer.ack
    faust_perform_seek = consumer.perform_seek
    acks_enabled_for = app.topics.acks_enabled_for

    def ack(message: Any) -> bool:
        if acks_enabled_for(message.topic) and (message in _REFUSED or not (
                _HANDLED.get() and message.generation_id in (None, app.consumer_generation_id))):
            log.debug("ack refused: %s[%d]@%d generation %s/%s handled %s flow %s", message.topic,
                        message.partition, message.offset, message.generation_id, app.consumer_generation_id,
                        _HANDLED.get(), app.flow_control.is_active())
            message.acked = True  # settled without a commit: it is read again after the seek
            consumer._unacked_messages.discard(message)
            return False
        return faust_ack(message)

    def new_offset(tp: Any) -> int | None:
        acked = consumer._acked[tp]
        start = consumer._committed_offset[tp]
        if start is None:
            start = known.get(tp)
        if not acked or start is None:
            return None
        acked.sort()
        offset, settled = next_commit(start, acked)
        if settled:
            consumer._acked_index[tp].difference_update(acked[:settled])
            del acked[:settled]
        if offset is not None:
            known[tp] = offset
        return offset

    async def perform_seek() -> None:
        await faust_perform_seek()
        committed = consumer._committed_offset
        assigned = [tp for tp in consumer.assignment() if acks_enabled_for(tp.topic)]
        never = [tp for tp in assigned if committed[tp] is None]
        if never:
            # No commit yet (or committed at 0): reading starts at the earliest
            # offset. Faust's seek leaves such a partition where fetching during
            # recovery left it, past messages the end of recovery dropped from
            # the stream queues, so it is sought back here.
            earliest = await consumer.earliest_offsets(*never)
            committed.update(earliest)
            await consumer.seek_wait(earliest)
        known.update({tp: committed[tp] for tp in assigned if committed[tp] is not None})

    consumer.ack = ack
    consumer._new_offset = new_offset
    consumer.perform_seek = perform_seek
