"""Is the broker reachable? The answer each process's /readyz gives about Kafka.

Consumes: a ping, a coroutine that raises unless the broker answers a
metadata request within its timeout. Produces: ``(reachable, why)``. Owns:
the last answer and when it was taken; it opens nothing itself, and
``admin_ping`` creates its client on the first ping, never at import.

Probes come often (an orchestrator's, the dev stack's start-up wait polls
every 0.2 s), and a metadata request to a broker that is down takes its
whole timeout. So one answer serves every probe for ``max_age_s``, and probes
that arrive while a request is out wait for that one instead of sending
their own: at most one metadata request per ``max_age_s``, whatever the
probe rate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from confluent_kafka.admin import AdminClient

from orderflow.kafka_client import KafkaClient, as_client

__all__ = ["MAX_AGE_S", "PING_TIMEOUT_S", "BrokerProbe", "admin_ping"]

Ping = Callable[[], Awaitable[object]]
MAX_AGE_S = 2.0
PING_TIMEOUT_S = 2.0


class BrokerProbe:
    def __init__(self, ping: Ping, max_age_s: float = MAX_AGE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ping = ping
        self._max_age_s = max_age_s
        self._clock = clock
        self._answer: tuple[bool, str] | None = None
        self._taken_at = 0.0
        self._asking = asyncio.Lock()

    def _fresh(self) -> tuple[bool, str] | None:
        if self._answer is not None and self._clock() - self._taken_at < self._max_age_s:
            return self._answer
        return None

    async def check(self) -> tuple[bool, str]:
        """``(True, "broker reachable")`` or ``(False, "broker unreachable: <why>")``."""
        answer = self._fresh()
        if answer is not None:
            return answer
        async with self._asking:
            answer = self._fresh()  # taken by the probe this one waited for
            if answer is None:
                answer = self._answer = await self._ask()
                self._taken_at = self._clock()
        return answer

    async def _ask(self) -> tuple[bool, str]:
        try:
            await self._ping()
        # Whatever kept the metadata request from being answered (a timeout, a
        # refused connection, a client not started) means not reachable; the
        # reason goes into /readyz's answer, where an operator reads it.
        except Exception as exc:  # noqa: BLE001
            return False, f"broker unreachable: {exc}"
        return True, "broker reachable"


def admin_ping(kafka: KafkaClient | str, timeout_s: float = PING_TIMEOUT_S) -> Ping:
    """A ping by metadata request, from an AdminClient created on the first ping."""
    clients: list[AdminClient] = []

    async def ping() -> None:
        if not clients:
            clients.append(AdminClient(as_client(kafka).config()))
        client = clients[0]
        # list_topics blocks (librdkafka waits for the answer): off the event loop
        await asyncio.get_running_loop().run_in_executor(None, lambda: client.list_topics(timeout=timeout_s))

    return ping
