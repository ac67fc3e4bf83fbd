"""Catches a consumer that stopped moving or skipped messages: the stall watch
ends the worker so its supervisor restarts it; the skip guard reads the
skipped messages again.

faust-streaming 0.15 can lose track of a partition that left a worker and came
back over repeated rebalances (faust-streaming#318): it stops handing the
partition's messages to the agent, or stops committing past them, and never
recovers on its own; the only cure its users report is a restart. A restart
is safe here: Kafka redelivers from the last commit, and every handler is
idempotent.

Consumes nothing and produces nothing; reads the Faust consumer's assignment,
its committed offsets and the partitions' end offsets every few seconds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["EXIT_SKIPPED", "EXIT_STALLED", "Rewind", "SkipGuard", "StallWatch", "is_stalled"]

log = logging.getLogger(__name__)
EXIT_STALLED = 75
EXIT_SKIPPED = 76
CHECK_EVERY_S = 5.0
BLOCKED_AFTER_S = 1.0  # a handler running longer is waiting on something outside
RESEEK_AFTER_S = 1.0
REWIND_PATIENCE_S = 30.0


@dataclass(frozen=True, slots=True)
class Progress:
    committed: int
    read: int  # the offset of the last message the consumer handed to the agent
    since: float  # when either last moved, or the lag was last zero


def is_stalled(progress: Progress, end: int, agent_blocked: bool, now: float, timeout_s: float) -> bool:
    """A partition lags its end, and neither its commit nor its reading has moved
    for ``timeout_s``, while its agent is not held up in one long message (an agent waiting out a
    payment provider outage holds its other partitions back legitimately)."""
    if end <= progress.committed or agent_blocked:
        return False
    return now - progress.since > timeout_s


class StallWatch:
    def __init__(self, app: Any, timeout_s: float, exit_process: Callable[[int], None] = os._exit) -> None:
        self.app = app
        self.timeout_s = timeout_s
        self._exit = exit_process
        self._agent_of_topic: dict[str, str] = {}
        self._busy_since: dict[str, float] = {}
        self._progress: dict[Any, Progress] = {}

    def watch(self, agent: str, topics: list[str]) -> None:
        for topic in topics:
            self._agent_of_topic[topic] = agent

    @contextlib.contextmanager
    def handling(self, agent: str) -> Iterator[None]:
        self._busy_since[agent] = time.monotonic()
        try:
            yield
        finally:
            del self._busy_since[agent]

    def wrap(self, agent: str, handler: Callable[[Any], Awaitable[str]]) -> Callable[[Any], Awaitable[str]]:
        async def watched(msg: Any) -> str:
            with self.handling(agent):
                return await handler(msg)
        return watched

    def start(self) -> None:
        self.app.timer(CHECK_EVERY_S, name="stall_watch")(self.check)

    async def check(self) -> None:
        app, now = self.app, time.monotonic()
        if app.in_recovery or app.rebalancing:
            self._progress.clear()  # the clocks start again after it
            return
        consumer = app.consumer
        tps = [tp for tp in consumer.assignment() if tp.topic in self._agent_of_topic]
        ends = await consumer.highwaters(*tps) if tps else {}
        seen = {}
        for tp in tps:
            # Faust's own view of what it committed (a seek on assignment sets it too)
            committed = consumer._committed_offset.get(tp) or 0
            read = consumer._read_offset.get(tp) or 0
            end = ends.get(tp) or 0
            last = self._progress.get(tp)
            if last is None or (last.committed, last.read) != (committed, read) or end <= committed:
                last = Progress(committed, read, now)
            seen[tp] = last
            busy_since = self._busy_since.get(self._agent_of_topic[tp.topic])
            blocked = busy_since is not None and now - busy_since > BLOCKED_AFTER_S
            if is_stalled(last, end, blocked, now, self.timeout_s):
                log.critical("%s[%d] stalled: committed %d, read %d of %d, unmoved for %.0fs; exiting for a restart",
                             tp.topic, tp.partition, committed, read, end, now - last.since)
                logging.shutdown()
                self._exit(EXIT_STALLED)
                return
        self._progress = seen


@dataclass(slots=True)
class Rewind:
    target: int  # the first offset the agent has not seen
    since: float
    last_seek: float


class SkipGuard:
    """Reads again what the consumer skipped, before any of it can be lost.

    Our source topics have contiguous offsets (no compaction, no transaction
    markers), so after the group's committed offset every message of a
    partition must reach the agent that reads it, in order. faust-streaming
    sometimes jumps ahead while a worker takes partitions over (seen here:
    the first message after a takeover was 9, with 5..8 never delivered).
    The commit cannot pass the jumped-over messages (``commits``), but
    nothing would read them again. So the guard seeks the partition back to
    the first missing offset and drops, unacked, what arrives past it until
    that offset comes; a rewind that does not complete within
    ``REWIND_PATIENCE_S`` ends the worker for a restart instead. Before
    deciding, the group's committed offset is asked of Kafka: the consumer's
    own view can lag it just after a rebalance.
    """

    def __init__(self, consumer_of: Callable[[], Any], exit_process: Callable[[int], None] = os._exit,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._consumer_of = consumer_of
        self._exit = exit_process
        self._clock = clock
        self._last: dict[tuple[str, Any], int] = {}
        self._rewinds: dict[tuple[str, Any], Rewind] = {}

    def _expected(self, key: tuple[str, Any], committed: int | None) -> int | None:
        last = self._last.get(key)
        if last is not None and (committed is None or last + 1 >= committed):
            return last + 1
        return committed

    async def admit(self, agent: str, tp: Any, offset: int) -> bool:
        """Whether the agent may handle this message; one it may not is left
        unacked and is delivered again after the seek."""
        key = (agent, tp)
        consumer = self._consumer_of()
        rewind = self._rewinds.get(key)
        if rewind is not None:
            committed = consumer._committed_offset.get(tp)
            if committed is not None and committed > rewind.target:
                rewind.target = committed  # a rebalance sought it further since
            if offset > rewind.target:
                return False  # the timer seeks again (keep_rewinding)
            del self._rewinds[key]
            self._last[key] = offset
            return True
        own_view = consumer._committed_offset.get(tp)
        expected = self._expected(key, own_view)
        if expected is not None and offset > expected:
            in_kafka = await committed_in_kafka(consumer, tp)
            # No commit in Kafka yet: the start is the log's first offset, which
            # the seek on assignment put in the consumer's own view.
            expected = self._expected(key, own_view if in_kafka is None else in_kafka)
        if expected is not None and offset > expected:
            log.warning("%s, %s[%d]: message %d arrived but %d..%d never did (read offset %s); "
                        "reading them again", agent, tp.topic, tp.partition, offset, expected, offset - 1,
                        consumer._read_offset.get(tp))
            now = self._clock()
            self._rewinds[key] = rewind = Rewind(expected, now, now)
            await self._seek(consumer, tp, rewind)
            return False
        self._last[key] = offset
        return True

    def start(self, app: Any) -> None:
        # twice per reseek interval, so a tick just short of it delays a seek by half, not all of it
        app.timer(RESEEK_AFTER_S / 2, name="skip_guard")(self.keep_rewinding)

    async def keep_rewinding(self) -> None:
        """Seek again each rewind still waiting after ``RESEEK_AFTER_S``, or end the worker
        once one has waited ``REWIND_PATIENCE_S``. Messages fetched before a
        seek can carry Faust's read offset past the target once more, so one
        seek is not always enough; and when they were the partition's last
        messages, no arrival would prompt another (seen once: a rewind to
        offset 0 stood until the stall watch restarted the worker)."""
        if not self._rewinds:
            return
        consumer = self._consumer_of()
        if consumer.app.rebalancing:
            return  # the rebalance seeks every partition it assigns
        assigned, now = consumer.assignment(), self._clock()
        for key, rewind in list(self._rewinds.items()):
            tp = key[1]
            if tp not in assigned:
                del self._rewinds[key]  # revoked: its next owner reads it from the commit
            elif now - rewind.since > REWIND_PATIENCE_S:
                log.critical("%s[%d]: offset %d still not read again after %.0fs; exiting for a restart",
                             tp.topic, tp.partition, rewind.target, now - rewind.since)
                logging.shutdown()
                self._exit(EXIT_SKIPPED)
                return
            elif now - rewind.last_seek >= RESEEK_AFTER_S:
                rewind.last_seek = now
                await self._seek(consumer, tp, rewind)

    @staticmethod
    async def _seek(consumer: Any, tp: Any, rewind: Rewind) -> None:
        try:
            await consumer.seek_wait({tp: rewind.target})
        except Exception as exc:  # noqa: BLE001 - e.g. revoked meanwhile: the rebalance seeks it
            log.warning("seek of %s[%d] to %d failed: %r", tp.topic, tp.partition, rewind.target, exc)


async def committed_in_kafka(consumer: Any, tp: Any) -> int | None:
    """The group's committed offset of ``tp`` as the broker has it now."""
    thread = consumer._thread
    return await thread.call_thread(thread._ensure_consumer().committed, tp)
