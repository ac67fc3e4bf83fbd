"""Closes holes in Faust's at-least-once commit (faust-streaming 0.15):

1. Before committing offsets Faust flushes its ProducerBuffer (the queue of
   table changelog writes), but that flush gives up after 0.1 s without
   progress and ignores the message being sent, so offsets could be
   committed ahead of changelog writes still in memory; a kill -9 then loses
   them. ``DrainingBuffer`` makes the flush wait until the queue is empty and
   nothing is in flight; the aiokafka flush Faust runs next then waits for
   the broker to acknowledge all of it.
2. Faust gives its producer idempotence only under exactly_once (which is
   unsafe in 0.15); ``DurableApp`` turns it on under at_least_once too, so a
   send retried after a broker failover is written once.
3. When recovery ends, Faust resumes the stream partitions, seeks them to
   the committed offsets, and only then resumes flow control, which empties
   every stream queue; messages fetched in between are dropped after their
   offsets were marked read, so the agent never sees them and the commit
   either stalls or (through Faust's gap tracking) passes them. Seen here as
   orders committed and never handled. ``keep_messages_fetched_on_resume``
   empties the queues before the partitions are resumed instead, so what is
   fetched after the seek reaches the agents (a message fetched twice is a
   replay, which every handler absorbs). Which acks a commit may pass is
   ``commits``'s business.
4. A send that fails for good (changelog or output) is only logged by Faust,
   and the next commit moves past the message that made it. ``SafeTopic``
   ends the process at once instead, without a graceful stop (which would
   commit): Kafka redelivers from the last commit, and every state change
   being idempotent, the replay restores what was lost.
5. Faust builds aiokafka's consumer with a fetch wait of 1.5 s and
   aiokafka's fetch.min.bytes of 1: the broker answers a fetch as soon as
   one record is ready, and each answer lists every partition the worker
   holds. ``DurableApp``'s consumer (``BatchingConsumerThread``) asks for
   fuller fetches instead (``Settings.fetch_min_bytes``, ``fetch_max_wait_s``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import Any, cast

import faust
from faust.topics import Topic
from faust.transport.drivers import aiokafka as faust_aiokafka

from orderflow.agents.runtime.checkpoints import Checkpoints

__all__ = [
    "DurableApp",
    "FetchSizing",
    "SafeTopic",
    "keep_messages_fetched_on_resume",
    "make_commits_wait_for_changelogs",
]

log = logging.getLogger(__name__)
EXIT_SEND_FAILED = 70
DRAIN_PATIENCE_S = 120.0


class IdempotentProducer(faust_aiokafka.Producer):
    def _settings_extra(self) -> dict[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


@dataclass(frozen=True)
class FetchSizing:
    """Kafka's fetch.min.bytes and fetch.max.wait.ms for the worker's consumer."""

    min_bytes: int = 1
    max_wait_ms: int = 1500


class BatchingConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka reads these when the consumer starts its fetcher; Faust
        # passes no fetch.min.bytes and a fixed wait (pinned: aiokafka 0.14).
        sizing: FetchSizing = self.app.fetch_sizing  # type: ignore[attr-defined]  # a DurableApp's
        consumer._fetch_min_bytes = sizing.min_bytes
        consumer._fetch_max_wait_ms = sizing.max_wait_ms
        return consumer


class BatchingConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> BatchingConsumerThread:
        return BatchingConsumerThread(self, loop=self.loop, beacon=self.beacon)


class IdempotentTransport(faust_aiokafka.Transport):
    Producer = IdempotentProducer
    Consumer = BatchingConsumer


class DurableApp(faust.App):
    """A Faust app whose producer writes with acks=all and idempotence, and
    whose consumer asks for fetches of ``fetch_sizing``."""

    def __init__(self, *args: Any, fetch_sizing: FetchSizing = FetchSizing(), **kwargs: Any) -> None:
        self.fetch_sizing = fetch_sizing
        self.checkpoints = Checkpoints()  # its table stores register here
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> IdempotentTransport:
        return IdempotentTransport(self.conf.broker_consumer, self)

    @property
    def tables_recovered(self) -> bool:
        """Whether every assigned table partition is restored (Faust's
        recovery completes only after an assignment)."""
        recovery = cast(Any, self.tables).recovery  # TableManagerT does not declare it; TableManager has it
        return bool(recovery.completed.is_set())


class SafeTopic(Topic):
    """A Faust topic whose failed sends stop the worker before any commit."""

    def _on_published(self, fut: asyncio.Future[Any], message: Any, producer: Any, state: Any) -> None:
        super()._on_published(fut, message, producer, state)
        if not fut.cancelled() and fut.exception() is not None:
            log.critical("send to %s failed for good (%s); stopping before offsets move past it",
                         self.get_topic_name(), fut.exception())
            logging.shutdown()
            os._exit(EXIT_SEND_FAILED)


def make_commits_wait_for_changelogs(app: faust.App) -> None:
    """Replace the producer buffer's flush with one that really drains it."""
    buffer: Any = app.producer.buffer  # Faust's concrete ProducerBuffer, repaired here
    in_flight = 0
    send_pending = buffer._send_pending

    async def counted_send(fut: Any) -> None:
        nonlocal in_flight
        in_flight += 1
        try:
            await send_pending(fut)
        finally:
            in_flight -= 1
            buffer.message_sent.set()

    async def drain() -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN_PATIENCE_S
        while buffer.size or in_flight:
            buffer.message_sent.clear()
            if buffer.size == 0 and in_flight == 0:
                break
            remaining = deadline - loop.time()
            if remaining <= 0:
                # Raising fails this commit; Faust retries it at the next interval.
                raise TimeoutError(f"changelog writes not sent after {DRAIN_PATIENCE_S}s")
            try:
                await asyncio.wait_for(buffer.message_sent.wait(), timeout=min(remaining, 1.0))
            except TimeoutError:
                continue

    # The buffer's sending task reads _send_pending when it starts, after this.
    buffer._send_pending = counted_send
    buffer.flush = drain


def keep_messages_fetched_on_resume(app: faust.App) -> None:
    """Make the end of recovery empty the stream queues before, not after, the
    stream partitions are resumed and sought (see 3. above)."""
    recovery = cast(Any, app.tables).recovery  # Faust's concrete Recovery, repaired here
    resume_streams = recovery._resume_streams
    flow: Any = app.flow_control  # its resume is swapped for the end of one recovery

    def resume_without_emptying() -> None:
        flow._suspend.clear()
        flow._resume.set()

    async def resume_streams_keeping_what_is_fetched(generation_id: int = 0) -> None:
        flow.clear()  # what was queued before the partitions resume is stale
        flow.resume = resume_without_emptying
        try:
            await resume_streams(generation_id)
        finally:
            del flow.resume  # back to the class's, which empties

    recovery._resume_streams = resume_streams_keeping_what_is_fetched
