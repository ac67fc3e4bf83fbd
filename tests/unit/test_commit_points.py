"""A commit moves only over messages an agent handled, from the committed offset on."""

from __future__ import annotations

from collections.abc import AsyncIterator

import faust
import pytest
from faust.types import TP
from faust.types.tuples import Message

from orderflow.agents.runtime.commits import commit_only_handled, handled_ack, next_commit, refuse


def test_a_contiguous_run_from_the_committed_offset_is_committed() -> None:
    assert next_commit(10, [10, 11, 12]) == (13, 3)


def test_an_unhandled_message_at_the_committed_offset_holds_the_commit() -> None:
    # Faust itself would commit 13 here, passing offset 10
    assert next_commit(10, [11, 12]) == (None, 0)


def test_the_commit_stops_at_the_first_hole() -> None:
    assert next_commit(10, [10, 11, 13, 14]) == (12, 2)


def test_acks_below_the_committed_offset_are_settled_without_moving_it() -> None:
    assert next_commit(10, [7, 8]) == (None, 2)
    assert next_commit(10, [8, 9, 10]) == (11, 3)


def test_nothing_acked_commits_nothing() -> None:
    assert next_commit(10, []) == (None, 0)


SOURCE = TP("orders.commands", 3)


@pytest.fixture
async def consumer() -> AsyncIterator[faust.types.ConsumerT]:
    """Faust's own consumer object with the rules installed; never started."""
    app = faust.App("commit-points", broker="kafka://localhost:1", store="memory://")
    app.topics.add(app.topic(SOURCE.topic, value_serializer="raw"))  # as an agent's stream does
    await app.topics._update_indices()  # what subscribing does: the topic's messages are acked
    commit_only_handled(app)
    app.consumer._committed_offset[SOURCE] = 10
    yield app.consumer


def message(offset: int, generation: int = 0) -> Message:
    return Message(SOURCE.topic, SOURCE.partition, offset, 0.0, 0, None, b"k", b"v", None, None,
                   None, tp=SOURCE, generation_id=generation)


def handled(consumer: faust.types.ConsumerT, *offsets: int, generation: int = 0) -> None:
    with handled_ack():
        for offset in offsets:
            consumer.ack(message(offset, generation))


def test_a_message_faust_skipped_is_not_committed(consumer: faust.types.ConsumerT) -> None:
    skipped = message(10)
    assert consumer.ack(skipped) is False  # the stream's own ack, outside an agent's handling
    handled(consumer, 11, 12)
    assert consumer._new_offset(SOURCE) is None
    handled(consumer, 10)  # its copy, read again after the seek
    assert consumer._new_offset(SOURCE) == 13


def test_an_ack_from_an_earlier_generation_is_refused(consumer: faust.types.ConsumerT) -> None:
    handled(consumer, 10, generation=7)
    handled(consumer, 11)
    assert consumer._new_offset(SOURCE) is None


def test_a_revoked_partition_commits_from_its_last_commit_point(consumer: faust.types.ConsumerT) -> None:
    handled(consumer, 10, 11)
    assert consumer._new_offset(SOURCE) == 12
    consumer._committed_offset.pop(SOURCE)  # what Faust does on a revoke, before its last commit
    handled(consumer, 13)
    assert consumer._new_offset(SOURCE) is None  # 12 was never handled
    handled(consumer, 12)
    assert consumer._new_offset(SOURCE) == 14


def test_a_message_one_agent_dropped_is_not_committed_by_another(consumer: faust.types.ConsumerT) -> None:
    dropped = message(10)
    refuse(dropped)  # one agent's skip guard dropped it, to read it again
    with handled_ack():
        assert consumer.ack(dropped) is False  # the other agent reading the topic handled it
    handled(consumer, 11)
    assert consumer._new_offset(SOURCE) is None


async def test_a_partition_never_committed_is_sought_to_its_first_offset(consumer: faust.types.ConsumerT) -> None:
    never = TP(SOURCE.topic, 4)
    sought: list[dict[TP, int]] = []

    async def seek_to_committed() -> dict[TP, int | None]:
        return {SOURCE: 10, never: None}  # what Kafka answers; Faust seeks only SOURCE

    async def earliest_offsets(*tps: TP) -> dict[TP, int]:
        return {tp: 0 for tp in tps}

    async def seek_wait(partitions: dict[TP, int]) -> None:
        sought.append(dict(partitions))

    consumer.seek_to_committed = seek_to_committed
    consumer.earliest_offsets = earliest_offsets
    consumer.seek_wait = seek_wait
    consumer.assignment = lambda: {SOURCE, never}
    await consumer.perform_seek()
    # fetching during recovery may have moved its position past messages dropped since
    assert sought == [{never: 0}]
    assert consumer._committed_offset[never] == 0  # the commit moves only from there
