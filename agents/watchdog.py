"""Catches a consumer that stopped moving and ends the worker so its supervisor
restarts it.

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

__all__ = ["EXIT_SKIPPED", "EXIT_STALLED", "SkipGuard", "StallWatch", "is_stalled"]

log = logging.getLogger(__name__)
EXIT_STALLED = 75
EXIT_SKIPPED = 76
CHECK_EVERY_S = 5.0
BLOCKED_AFTER_S = 1.0  # a handler running longer is waiting on something outside


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


class SkipGuard:
    """Ends the worker before a commit could pass messages the consumer never
    handed to an agent.

    Our source topics have contiguous offsets (no compaction, no transaction
    markers), so after the group's committed offset every message of a
    partition must reach each agent that reads it, in order. faust-streaming
    can jump ahead after a restart or rebalance and record the jumped-over
    offsets as a "gap" that its next commit treats as done (seen here: 14
    orders committed and never handled). The message that reveals the jump is
    not acked, so the commit stays before the skipped ones, and a restart
    reads them again. Before deciding, the group's committed offset is asked
    of Kafka: the consumer's own view can lag it just after a rebalance.
    """

    def __init__(self, consumer_of: Callable[[], Any], exit_process: Callable[[int], None] = os._exit) -> None:
        self._consumer_of = consumer_of
        self._exit = exit_process
        self._last: dict[tuple[str, Any], int] = {}

    def _expected(self, key: tuple[str, Any], committed: int | None) -> int | None:
        last = self._last.get(key)
        if last is not None and (committed is None or last + 1 >= committed):
            return last + 1
        return committed

    async def check(self, agent: str, tp: Any, offset: int) -> None:
        key = (agent, tp)
        consumer = self._consumer_of()
        expected = self._expected(key, consumer._committed_offset.get(tp))
        if expected is not None and offset > expected:
            expected = self._expected(key, await committed_in_kafka(consumer, tp))
        if expected is not None and offset > expected:
            log.critical("%s, %s[%d]: message %d arrived but %d..%d never did (read offset %s, "
                         "generation %s, rebalancing %s); exiting before a commit passes them",
                         agent, tp.topic, tp.partition, offset, expected, offset - 1,
                         consumer._read_offset.get(tp), consumer.app.consumer_generation_id,
                         consumer.app.rebalancing)
            logging.shutdown()
            self._exit(EXIT_SKIPPED)
            return
        self._last[key] = offset


async def committed_in_kafka(consumer: Any, tp: Any) -> int | None:
    """The group's committed offset of ``tp`` as the broker has it now."""
    thread = consumer._thread
    return await thread.call_thread(thread._ensure_consumer().committed, tp)
