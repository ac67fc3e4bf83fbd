"""Tracking reads for the gateway: forwards GETs to the workers, which own the
state tables and route each read to the worker that owns the key.

Consumes nothing from Kafka; owns only an aiohttp client session. Tries each
configured worker in turn, so one worker down does not fail reads; a read of
every worker's own partitions (the product list, the recent orders) asks a
worker for the group's members (``/members``) and then all of them at once,
so ``ORDERFLOW_WORKER_URLS`` need only reach one worker for it.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from dataclasses import dataclass
from typing import Any

import aiohttp

from orderflow.metrics import GATEWAY_WORKER_READ_ERRORS

__all__ = ["TrackingClient", "WorkerAnswer", "WorkersUnavailable"]


class WorkersUnavailable(RuntimeError):
    """No worker answered; the gateway returns 503."""


@dataclass(frozen=True)
class WorkerAnswer:
    status: int
    body: bytes
    content_type: str


class TrackingClient:
    def __init__(self, worker_urls: list[str], timeout_s: float, tls: ssl.SSLContext | bool = True) -> None:
        self._urls = worker_urls
        self._tls = tls  # how the workers' certificates are checked, when they serve https
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._next = 0

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout, connector=aiohttp.TCPConnector(ssl=self._tls))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def get_json(self, path_qs: str, wait_s: float = 0.0) -> tuple[int, Any]:
        """Status and JSON body; WorkersUnavailable when the answer is not JSON
        (e.g. a worker's own plain-text 404 for a path it does not route)."""
        answer = await self.get(path_qs, wait_s)
        try:
            return answer.status, json.loads(answer.body)
        except ValueError:
            raise WorkersUnavailable(f"a worker answered {answer.status} {answer.content_type}, not JSON") from None

    async def get(self, path_qs: str, wait_s: float = 0.0) -> WorkerAnswer:
        """GET ``path_qs`` from the first worker that answers (round robin start).

        ``wait_s`` is how long the worker may hold the request (a long-poll).
        """
        if self._session is None:
            raise RuntimeError("start() first")
        timeout = aiohttp.ClientTimeout(total=self._timeout.total + wait_s if self._timeout.total else None)
        errors = []
        start, self._next = self._next, (self._next + 1) % len(self._urls)
        resource = read_resource(path_qs)
        for i in range(len(self._urls)):
            base = self._urls[(start + i) % len(self._urls)]
            try:
                async with self._session.get(base + path_qs, timeout=timeout) as resp:
                    if resp.status >= 500:
                        GATEWAY_WORKER_READ_ERRORS.labels(resource).inc()
                    if resp.status == 503 and i + 1 < len(self._urls):
                        errors.append(f"{base}: 503")
                        continue
                    return WorkerAnswer(resp.status, await resp.read(), resp.content_type)
            except (aiohttp.ClientError, TimeoutError) as exc:
                GATEWAY_WORKER_READ_ERRORS.labels(resource).inc()
                errors.append(f"{base}: {type(exc).__name__}")
        raise WorkersUnavailable("; ".join(errors))


    async def members(self) -> list[str]:
        """The workers that own partitions now, as any worker knows them from the group's
        assignment; the configured URLs when none can say (e.g. all are starting)."""
        try:
            status, body = await self.get_json("/members")
        except WorkersUnavailable:
            return self._urls
        found = body.get("workers") if status == 200 and isinstance(body, dict) else None
        return [str(url) for url in found] if found else self._urls

    async def get_each_json(self, path_qs: str) -> tuple[list[Any], list[str]]:
        """``path_qs`` from every worker of the group at once (a read of each one's own
        partitions): the JSON bodies of the 200 answers, and what each other one said;
        WorkersUnavailable when none answered."""
        if self._session is None:
            raise RuntimeError("start() first")
        urls = await self.members()
        answers = await asyncio.gather(*(self._get_one(self._session, base, path_qs) for base in urls))
        bodies = [body for body, _ in answers if body is not None]
        problems = [problem for _, problem in answers if problem is not None]
        if not bodies:
            raise WorkersUnavailable("; ".join(problems))
        return bodies, problems

    @staticmethod
    async def _get_one(session: aiohttp.ClientSession, base: str, path_qs: str) -> tuple[Any, str | None]:
        try:
            async with session.get(base + path_qs) as resp:
                if resp.status == 200:
                    return json.loads(await resp.read()), None
                if resp.status >= 500:
                    GATEWAY_WORKER_READ_ERRORS.labels(read_resource(path_qs)).inc()
                return None, f"{base}: {resp.status}"
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            GATEWAY_WORKER_READ_ERRORS.labels(read_resource(path_qs)).inc()
            return None, f"{base}: {type(exc).__name__}"


def read_resource(path_qs: str) -> str:
    """The metric label of a worker path: its first segment (orders, customers,
    inventory, readyz), never a key."""
    return path_qs.lstrip("/").split("/", 1)[0].split("?", 1)[0] or "root"
