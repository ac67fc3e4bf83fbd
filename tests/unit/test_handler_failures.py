"""A bug is not a poison message: messages that cannot be handled are
dead-lettered and the agent goes on, while handler exceptions are
dead-lettered and counted, and too many too fast stop the worker (not ready,
the tripping dead letter acknowledged and its message acked, a commit, then
the exit code of its own)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Generator
from types import SimpleNamespace
from typing import Any

import pytest

from orderflow.agents.runtime import failures
from orderflow.agents.runtime.failures import EXIT_HANDLER_FAILURES, FailStop, Failure, FailureBudget, Unhandleable
from orderflow.agents.runtime.handling import Inbound, run_agent
from orderflow.agents.web import worker_ready
from orderflow.deadletter_headers import REASON, SOURCE_OFFSET
from orderflow.partitioning import partition_for_key
from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec

SPEC = catalog.ORDER_COMMANDS
PARTITIONS = 4
CODEC = Codec()


def failure(at: float) -> Failure:
    return Failure("process_orders", f"orders.commands/0/{int(at)}", "RuntimeError: boom", at)


# The budget, pure.

def test_the_budget_trips_at_the_limit_within_the_window() -> None:
    budget = FailureBudget(limit=3, window_s=10.0)
    assert [budget.record(failure(t)) for t in (0.0, 4.0, 10.0)] == [False, False, True]
    assert [f.at for f in budget.recent] == [0.0, 4.0, 10.0]


def test_the_budget_does_not_trip_on_the_limit_spread_over_more_than_the_window() -> None:
    budget = FailureBudget(limit=3, window_s=10.0)
    assert not any(budget.record(failure(t)) for t in (0.0, 6.0, 10.5, 17.0, 21.0, 27.5))


def test_old_failures_leave_the_window_and_a_later_burst_trips_it() -> None:
    budget = FailureBudget(limit=3, window_s=10.0)
    assert not budget.record(failure(0.0)) and not budget.record(failure(1.0))
    assert not budget.record(failure(30.0))  # 0 and 1 are too old to count with it
    assert not budget.record(failure(31.0))
    assert budget.record(failure(32.0))


def test_a_limit_of_one_trips_on_the_first_failure() -> None:
    assert FailureBudget(limit=1, window_s=1.0).record(failure(5.0))


@pytest.mark.parametrize(("limit", "window_s"), [(0, 10.0), (3, 0.0)])
def test_a_budget_that_could_never_or_always_trip_is_refused(limit: int, window_s: float) -> None:
    with pytest.raises(ValueError):
        FailureBudget(limit, window_s)


# The agent loop and the stop, with Faust's stream and consumer faked.

class Exited(Exception):
    """What the fake ``os._exit`` raises, so the test sees the exit code."""


class Acknowledgement:
    """What a send returns: awaiting it is the broker acknowledging the record."""

    def __init__(self, log: list[tuple[Any, ...]], offset: int) -> None:
        self._log, self._offset = log, offset

    def __await__(self) -> Generator[Any, None, None]:
        async def acknowledged() -> None:
            self._log.append(("dead letter acknowledged", self._offset))

        return acknowledged().__await__()


class World:
    """Everything the loop touches, writing what happens to one log."""

    def __init__(self, limit: int = 3, window_s: float = 60.0) -> None:
        self.log: list[tuple[Any, ...]] = []
        self.now = 0.0
        consumer = SimpleNamespace(maybe_wait_for_commit_to_finish=self._no_commit_running, commit=self._commit)
        self.app = SimpleNamespace(should_stop=False, consumer=consumer)
        self.failstop = FailStop(self.app, limit, window_s, exit_delay_s=0.0, exit_process=self._exit,
                                 clock=lambda: self.now)

    async def _no_commit_running(self) -> bool:
        return False

    async def _commit(self) -> bool:
        self.log.append(("commit",))
        return True

    def _exit(self, code: int) -> None:
        self.log.append(("exit", code))
        raise Exited(code)

    async def send_raw(self, spec: catalog.TopicSpec, key: bytes | None, value: bytes | None,
                       headers: dict[str, bytes]) -> Awaitable[None]:
        offset = int(headers[SOURCE_OFFSET])
        self.log.append(("dead letter", offset, headers[REASON].decode()))
        return Acknowledgement(self.log, offset)

    def stream(self, values: list[bytes]) -> Any:
        world = self

        class Stream:
            app = world.app
            enable_acks = True

            async def events(self) -> AsyncIterator[Any]:
                for offset, value in enumerate(values):
                    key = f"ord_{offset}".encode()
                    message = SimpleNamespace(topic=SPEC.name, partition=partition_for_key(key, PARTITIONS),
                                              offset=offset, tp=(SPEC.name, 0))
                    yield SimpleNamespace(message=message, key=key, value=value, headers={})

            async def ack(self, event: Any) -> bool:
                world.log.append(("ack", event.message.offset))
                return True

        return Stream()

    async def run(self, values: list[bytes], handler: Any) -> None:
        await run_agent("process_orders", self.stream(values), {SPEC.name: SPEC}, CODEC, PARTITIONS,
                        self, handler, None, self.failstop)  # type: ignore[arg-type]  # the outbox is faked


def order(offset: int) -> bytes:
    return CODEC.encode(SPEC.default_schema, {
        "orderId": f"ord_{offset}", "customerId": "cust_1", "paymentMethodId": "pm_1",
        "items": [{"productId": "prod_1", "quantity": 1}]})


async def broken(msg: Inbound) -> str:
    raise RuntimeError(f"bug on {msg.cause}")


async def test_a_bug_stops_the_worker_after_the_limit_with_each_message_dead_lettered() -> None:
    world = World(limit=3)
    with pytest.raises(Exited):
        await world.run([order(i) for i in range(6)], broken)
    assert world.log[-1] == ("exit", EXIT_HANDLER_FAILURES)
    letters = [entry for entry in world.log if entry[0] == "dead letter"]
    assert [entry[1] for entry in letters] == [0, 1, 2]  # the fourth message was never taken
    assert all(entry[2].startswith("handler failed: RuntimeError: bug on orders.commands/") for entry in letters)
    # the tripping message: its dead letter on the broker, then its ack, then the commit, then the exit
    assert world.log[-5:] == [("dead letter", 2, letters[2][2]), ("dead letter acknowledged", 2), ("ack", 2),
                              ("commit",), ("exit", EXIT_HANDLER_FAILURES)]
    assert [entry[1] for entry in world.log if entry[0] == "ack"] == [0, 1, 2]


async def test_the_stopping_worker_is_not_ready_and_says_why() -> None:
    world = World(limit=2, window_s=30.0)
    pipeline: Any = SimpleNamespace(failstop=world.failstop, app=world.app)
    with pytest.raises(Exited):
        await world.run([order(i) for i in range(3)], broken)
    ready, why = worker_ready(pipeline)
    assert not ready
    assert why.startswith("stopping: 2 handler failures within 30s")
    assert "process_orders on orders.commands/" in why and "RuntimeError: bug on" in why


async def test_refused_and_undecodable_messages_are_dead_lettered_and_never_stop_the_worker() -> None:
    world = World(limit=2)

    async def refuses(msg: Inbound) -> str:
        raise Unhandleable(f"no such warehouse for {msg.key.decode()}")

    values = [order(i) if i % 2 else b"not avro" for i in range(10)]
    await world.run(values, refuses)  # returns: the stream ended, no exit
    reasons = [entry[2] for entry in world.log if entry[0] == "dead letter"]
    assert len(reasons) == 10
    assert {r.split(":")[0] for r in reasons} == {"undecodable", "refused"}
    assert "refused: no such warehouse for ord_1" in reasons
    assert [entry[1] for entry in world.log if entry[0] == "ack"] == list(range(10))
    assert world.failstop.tripped is None and ("commit",) not in world.log


async def test_failures_spread_wider_than_the_window_do_not_stop_the_worker() -> None:
    world = World(limit=3, window_s=10.0)

    async def broken_slowly(msg: Inbound) -> str:
        world.now += 6.0
        raise RuntimeError("bug")

    await world.run([order(i) for i in range(8)], broken_slowly)
    assert world.failstop.tripped is None
    assert [entry[1] for entry in world.log if entry[0] == "ack"] == list(range(8))


async def test_a_commit_that_hangs_does_not_keep_the_stopping_worker_up(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(limit=1)

    async def hangs() -> bool:
        await asyncio.Event().wait()
        return True

    world.app.consumer.commit = hangs
    monkeypatch.setattr(failures, "COMMIT_PATIENCE_S", 0.01)
    with pytest.raises(Exited):
        await world.run([order(0), order(1)], broken)
    assert world.log[-1] == ("exit", EXIT_HANDLER_FAILURES)
    assert ("ack", 0) in world.log and ("ack", 1) not in world.log
