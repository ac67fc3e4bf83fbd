"""Tells a message that cannot be handled from code that is broken, and stops a
worker whose handlers keep failing.

A message that no code could handle (undecodable, impossible, refused by a
rule: ``DecodeError`` from decoding, ``Unhandleable`` from a handler) is the
message's fault: ``agents/runtime/handling.py`` dead-letters it and the agent goes
on. Any other exception out of a handler is our code's fault. It is
dead-lettered too, so ``orderflow dlq replay`` brings the message back once
the code is fixed, and counted here: ``limit`` such failures within
``window_s`` seconds trip the worker's ``FailStop``. The worker then takes no
more messages, answers /readyz with 503 and the reason, commits what its
agents dealt with (the tripping message's dead letter is acknowledged by then),
stays up ``exit_delay_s`` so probes and scrapes see why, and exits with
``EXIT_HANDLER_FAILURES`` for its supervisor to restart it. A bug thus costs
at most ``limit`` dead letters per restart instead of every order, quietly.

Consumes the handler failures the agent loop reports; produces the critical
log line and the exit. Owns the failure budget and the tripped state
/readyz reads.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["EXIT_HANDLER_FAILURES", "FailStop", "Failure", "FailureBudget", "Unhandleable"]

log = logging.getLogger(__name__)
EXIT_HANDLER_FAILURES = 77  # beside durability's EXIT_SEND_FAILED (70), watchdog's EXIT_STALLED/_SKIPPED (75/76)
COMMIT_PATIENCE_S = 30.0


class Unhandleable(Exception):
    """Raised by a handler for a message that no code could ever handle (it is
    impossible or refused by a rule): dead-lettered with this reason, and not
    counted as a failure of the handler."""


@dataclass(frozen=True, slots=True)
class Failure:
    """One handler exception that was not an ``Unhandleable``."""

    agent: str
    cause: str  # the message, as topic/partition/offset
    error: str  # "KeyError: 'items'"
    at: float  # monotonic seconds

    def __str__(self) -> str:
        return f"{self.agent} on {self.cause}: {self.error}"


class FailureBudget:
    """``limit`` failures within ``window_s`` seconds trip it. Pure."""

    def __init__(self, limit: int, window_s: float) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("a failure budget needs a limit of at least 1 and a positive window")
        self.window_s = window_s
        self._recent: deque[Failure] = deque(maxlen=limit)

    def record(self, failure: Failure) -> bool:
        """Count ``failure``; True when it and the ``limit - 1`` before it fall within the window."""
        self._recent.append(failure)
        return (len(self._recent) == self._recent.maxlen
                and failure.at - self._recent[0].at <= self.window_s)

    @property
    def recent(self) -> tuple[Failure, ...]:
        """The last ``limit`` failures, oldest first."""
        return tuple(self._recent)


class FailStop:
    """The worker's failure budget, and what the worker does when it trips."""

    def __init__(self, app: Any, limit: int, window_s: float, exit_delay_s: float,
                 exit_process: Callable[[int], None] = os._exit,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._app = app
        self._budget = FailureBudget(limit, window_s)
        self._limit, self._window_s = limit, window_s
        self._exit_delay_s = exit_delay_s
        self._exit = exit_process
        self._clock = clock
        self.tripped: str | None = None  # why the worker is stopping, for /readyz

    def record(self, agent: str, cause: str, exc: BaseException) -> bool:
        """Count one handler failure; True only for the one that trips the budget."""
        failure = Failure(agent, cause, f"{type(exc).__name__}: {exc}", self._clock())
        if not self._budget.record(failure) or self.tripped is not None:
            return False
        self.tripped = (f"stopping: {self._limit} handler failures within {self._window_s:g}s "
                        f"(last: {failure})")
        return True

    async def stop_worker(self) -> None:
        """End the worker after a commit of what its agents dealt with; the
        tripping message's dead letter is acknowledged and the message acked
        before this is called.

        Committing first means a restart goes on after the dead-lettered
        messages instead of failing on them again and dead-lettering each once
        more per restart: they are in ``deadletters``, to be replayed after the
        fix. The commit passes only acked messages (``commits``), each handled
        or dead-lettered, and Faust's pre-commit flush waits for every dead
        letter sent. A commit that fails or hangs does not keep the worker up:
        what it did not cover is read again after the restart (at least once).
        """
        try:
            await asyncio.wait_for(self._commit(), COMMIT_PATIENCE_S)
        except Exception as exc:  # noqa: BLE001 - exiting regardless; the next owner reads from the last commit
            log.error("commit before the failure stop did not complete: %r", exc)
        log.critical("%s; the last failures:\n%s\nexiting with %d in %.1fs for a restart; replay their dead "
                     "letters (orderflow dlq list / replay) once the handler is fixed", self.tripped,
                     "\n".join(f"  {failure}" for failure in self._budget.recent),
                     EXIT_HANDLER_FAILURES, self._exit_delay_s)
        await asyncio.sleep(self._exit_delay_s)  # not ready meanwhile: probes and scrapes see why
        logging.shutdown()
        self._exit(EXIT_HANDLER_FAILURES)

    async def _commit(self) -> None:
        consumer = self._app.consumer
        # Faust's commit returns at once when another is under way (that one
        # may have started before our ack): wait it out, then commit ourselves.
        await consumer.maybe_wait_for_commit_to_finish()
        await consumer.commit()

    async def halt(self) -> None:
        """Where an agent waits for the exit once the budget tripped: the
        message it holds stays unacked, so no commit passes it."""
        await asyncio.Event().wait()
