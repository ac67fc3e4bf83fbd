"""The stall watch ends a worker whose consumer stopped moving a partition, and
only then; the skip guard reads again what the consumer jumped over."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any, NamedTuple

import pytest

from orderflow.agents.runtime.watchdog import EXIT_SKIPPED, EXIT_STALLED, Progress, SkipGuard, StallWatch, is_stalled


class TP(NamedTuple):
    topic: str
    partition: int


class FakeConsumer:
    """What the watch and the guard read from Faust's consumer."""

    def __init__(self) -> None:
        self.app = SimpleNamespace(consumer_generation_id=1, rebalancing=False)
        self.ends: dict[TP, int] = {}
        self._committed_offset: dict[TP, int] = {}
        self._read_offset: dict[TP, int] = {}
        self.seeks: list[dict[TP, int]] = []

    async def seek_wait(self, partitions: dict[TP, int]) -> None:
        self.seeks.append(dict(partitions))

    def assignment(self) -> set[TP]:
        return set(self.ends)

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        return {tp: self.ends[tp] for tp in tps}


class FakeApp:
    def __init__(self) -> None:
        self.consumer = FakeConsumer()
        self.in_recovery = False
        self.rebalancing = False


def test_a_partition_caught_up_or_moving_is_not_stalled() -> None:
    assert not is_stalled(Progress(10, 9, 0.0), end=10, agent_blocked=False, now=100.0, timeout_s=30)
    assert not is_stalled(Progress(5, 9, 90.0), end=10, agent_blocked=False, now=100.0, timeout_s=30)


def test_a_lagging_partition_whose_commit_stands_still_is_stalled() -> None:
    assert is_stalled(Progress(5, 9, 0.0), end=10, agent_blocked=False, now=100.0, timeout_s=30)


def test_an_agent_held_up_in_one_message_excuses_the_lag() -> None:
    assert not is_stalled(Progress(5, 9, 0.0), end=10, agent_blocked=True, now=100.0, timeout_s=30)


def watch_over(app: FakeApp, timeout_s: float) -> tuple[StallWatch, list[int]]:
    exits: list[int] = []
    watch = StallWatch(app, timeout_s, exit_process=exits.append)
    watch.watch("process_orders", ["orders.commands"])
    return watch, exits


def test_the_watch_exits_once_the_commit_stood_still_past_the_timeout() -> None:
    app = FakeApp()
    tp = TP("orders.commands", 11)
    app.consumer.ends[tp] = 130
    app.consumer._committed_offset[tp] = 7
    app.consumer.ends[TP("orders.commands", 1)] = 50
    app.consumer._committed_offset[TP("orders.commands", 1)] = 50
    watch, exits = watch_over(app, timeout_s=0.2)
    asyncio.run(watch.check())
    assert exits == []
    deadline = time.monotonic() + 5
    while not exits and time.monotonic() < deadline:
        asyncio.run(watch.check())
    assert exits == [EXIT_STALLED]


def test_a_partition_still_being_read_is_not_stalled() -> None:
    app = FakeApp()
    tp = TP("orders.commands", 2)
    app.consumer.ends[tp], app.consumer._committed_offset[tp] = 500, 100
    watch, exits = watch_over(app, timeout_s=0.1)
    started = time.monotonic()
    while time.monotonic() - started < 0.4:
        app.consumer._read_offset[tp] = app.consumer._read_offset.get(tp, 100) + 1
        asyncio.run(watch.check())
    assert exits == []


@pytest.mark.parametrize("flag", ["in_recovery", "rebalancing"])
def test_recovery_and_rebalances_restart_the_clock(flag: str) -> None:
    app = FakeApp()
    tp = TP("orders.commands", 3)
    app.consumer.ends[tp], app.consumer._committed_offset[tp] = 20, 0
    watch, exits = watch_over(app, timeout_s=0.05)
    asyncio.run(watch.check())
    setattr(app, flag, True)
    started = time.monotonic()
    while time.monotonic() - started < 0.2:
        asyncio.run(watch.check())
    assert exits == []


def test_a_handler_waiting_on_the_outside_world_is_not_a_stall() -> None:
    app = FakeApp()
    tp = TP("orders.commands", 3)
    app.consumer.ends[tp], app.consumer._committed_offset[tp] = 20, 0
    watch, exits = watch_over(app, timeout_s=0.05)

    async def long_handler(_msg: Any) -> str:
        await asyncio.sleep(1.3)
        return "applied"

    async def scenario() -> None:
        handling = asyncio.create_task(watch.wrap("process_orders", long_handler)(None))
        await asyncio.sleep(1.05)  # into the handler's wait, past what counts as one message's work
        while not handling.done():
            await watch.check()
            await asyncio.sleep(0.05)

    asyncio.run(scenario())
    assert exits == []


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def guard_over(consumer: FakeConsumer, clock: Clock | None = None) -> tuple[SkipGuard, list[int]]:
    exits: list[int] = []
    return SkipGuard(lambda: consumer, exit_process=exits.append, clock=clock or Clock()), exits


class FakeThread:
    """The consumer thread's committed() as Kafka would answer it."""

    def __init__(self, committed: dict[TP, int]) -> None:
        self._committed = committed

    async def committed(self, tp: TP) -> int | None:
        return self._committed.get(tp)

    def _ensure_consumer(self) -> FakeThread:
        return self

    async def call_thread(self, method: Any, *args: Any) -> Any:
        return await method(*args)


def admitted(guard: SkipGuard, tp: TP, *offsets: int, agent: str = "process_orders") -> list[int]:
    return [offset for offset in offsets if asyncio.run(guard.admit(agent, tp, offset))]


def test_contiguous_offsets_and_replays_pass_the_skip_guard() -> None:
    tp = TP("orders.commands", 2)
    consumer = consumer_at(tp, 44)
    guard, exits = guard_over(consumer)
    offsets = (44, 45, 46, 45, 46, 47)  # a replay goes back, never forward past one
    assert admitted(guard, tp, *offsets) == list(offsets)
    assert consumer.seeks == [] and exits == []


def test_two_agents_reading_one_topic_are_followed_apart() -> None:
    tp = TP("orders.by-customer", 10)
    consumer = consumer_at(tp, 32)
    guard, exits = guard_over(consumer)
    for offset in range(32, 40):
        assert admitted(guard, tp, offset, agent="manage_customers") == [offset]
        assert admitted(guard, tp, offset, agent="manage_customers") == [offset]
    assert consumer.seeks == [] and exits == []


def consumer_at(tp: TP, committed: int, in_kafka: int | None = None) -> FakeConsumer:
    """A consumer whose own view of ``tp``'s commit is ``committed``, Kafka's ``in_kafka``."""
    consumer = FakeConsumer()
    consumer._committed_offset[tp] = committed
    consumer._thread = FakeThread({} if in_kafka is None else {tp: in_kafka})
    return consumer


def hole_at_44() -> tuple[FakeConsumer, TP]:
    tp = TP("orders.commands", 2)
    consumer = consumer_at(tp, 44, in_kafka=44)
    consumer.ends[tp] = 60  # assigned to this worker
    return consumer, tp


def test_a_message_past_a_hole_is_refused_and_the_hole_read_again() -> None:
    consumer, tp = hole_at_44()
    guard, exits = guard_over(consumer)
    assert admitted(guard, tp, 58, 59) == []  # refused until 44 comes
    assert consumer.seeks == [{tp: 44}]
    assert admitted(guard, tp, 44, 45, 46) == [44, 45, 46]
    assert exits == []


def test_the_seek_is_repeated_while_messages_past_the_hole_keep_coming() -> None:
    consumer, tp = hole_at_44()
    clock = Clock()
    guard, exits = guard_over(consumer, clock)
    admitted(guard, tp, 58)
    clock.now += 1.5  # messages fetched before the seek moved Faust's read offset past 44 again
    assert admitted(guard, tp, 60) == []
    asyncio.run(guard.keep_rewinding())
    assert consumer.seeks == [{tp: 44}, {tp: 44}]
    assert exits == []


def test_a_hole_never_read_again_ends_the_worker() -> None:
    consumer, tp = hole_at_44()
    clock = Clock()
    guard, exits = guard_over(consumer, clock)
    admitted(guard, tp, 58)
    clock.now += 31
    admitted(guard, tp, 59)
    asyncio.run(guard.keep_rewinding())
    assert exits == [EXIT_SKIPPED]


def test_a_rebalance_during_a_rewind_moves_its_target() -> None:
    consumer, tp = hole_at_44()
    guard, exits = guard_over(consumer)
    admitted(guard, tp, 58)
    consumer._committed_offset[tp] = 70  # reassigned and sought to another worker's commit
    assert admitted(guard, tp, 70, 71) == [70, 71]
    assert exits == []


def test_a_commit_the_consumer_had_not_seen_yet_is_no_hole() -> None:
    tp = TP("stock.results", 7)
    # the consumer's view is stale: another worker handled 24..34 and committed 35
    consumer = consumer_at(tp, 24, in_kafka=35)
    guard, exits = guard_over(consumer)
    assert admitted(guard, tp, 35, 36) == [35, 36]
    assert consumer.seeks == [] and exits == []


def test_after_a_reassignment_the_committed_offset_is_the_start() -> None:
    tp = TP("orders.commands", 2)
    consumer = consumer_at(tp, 10)
    guard, exits = guard_over(consumer)
    assert admitted(guard, tp, 10) == [10]
    consumer._committed_offset[tp] = 90  # another worker handled 11..89 meanwhile
    assert admitted(guard, tp, 90) == [90]
    assert consumer.seeks == [] and exits == []


def test_with_no_commit_in_kafka_a_message_past_the_first_offset_is_a_hole() -> None:
    tp = TP("stock.requests", 5)
    # never committed: the seek on assignment set the consumer's view to the log's
    # first offset, but fetching during recovery left the position at 50
    consumer = consumer_at(tp, 0, in_kafka=None)
    guard, exits = guard_over(consumer)
    assert admitted(guard, tp, 50, 51) == []
    assert consumer.seeks == [{tp: 0}]
    assert admitted(guard, tp, 0, 1, 2) == [0, 1, 2]
    assert exits == []


def test_a_rewind_no_message_prompts_is_sought_again_by_the_timer() -> None:
    consumer, tp = hole_at_44()
    clock = Clock()
    guard, exits = guard_over(consumer, clock)
    admitted(guard, tp, 59)  # the partition's last message, fetched before the seek
    clock.now += 0.5
    asyncio.run(guard.keep_rewinding())
    assert consumer.seeks == [{tp: 44}]  # not yet: the seek is a second old at most
    clock.now += 1.0
    asyncio.run(guard.keep_rewinding())
    assert consumer.seeks == [{tp: 44}, {tp: 44}]
    clock.now += 30
    asyncio.run(guard.keep_rewinding())
    assert exits == [EXIT_SKIPPED]


def test_the_timer_drops_the_rewind_of_a_partition_taken_away() -> None:
    consumer, tp = hole_at_44()
    del consumer.ends[tp]  # revoked
    clock = Clock()
    guard, exits = guard_over(consumer, clock)
    admitted(guard, tp, 59)
    clock.now += 31  # long past the patience, but the partition is another worker's now
    asyncio.run(guard.keep_rewinding())
    assert consumer.seeks == [{tp: 44}] and exits == []
