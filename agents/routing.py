"""Routes a table read to the worker that owns the key's partition.

Faust's own ``table_route`` asks the producer's metadata for the partition
count, which fails until the worker has produced to the changelog, and it
drops the query string's meaning on a proxy hop. This router hashes the key
bytes itself (``orderflow.partitioning``), looks the owner up in the
assignment Faust shares in the group (``app.router.table_metadata``) and
either answers locally or forwards the GET once.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import aiohttp
from faust.web import Request, Response, View

from orderflow.partitioning import partition_for_key

if TYPE_CHECKING:
    import faust

__all__ = ["ROUTED_HEADER", "TableRouter"]

ROUTED_HEADER = "X-Orderflow-Routed"
LocalHandler = Callable[[], Awaitable[Response]]


class TableRouter:
    def __init__(self, app: faust.App, table: faust.types.TableT, partitions: int,
                 timeout_s: float, tls: ssl.SSLContext | bool = True) -> None:
        self._app = app
        self._tls = tls  # how an owner's certificate is checked, when workers serve https
        self._table = table
        self._partitions = partitions
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    def owner_url(self, key: bytes) -> str | None:
        """The canonical URL of the worker owning ``key``, if it is assigned."""
        partition = partition_for_key(key, self._partitions)
        changelog = self._table.changelog_topic.get_topic_name()
        for url, topics in self._app.router.table_metadata(self._table.name).items():
            if partition in topics.get(changelog, ()):
                return str(url).rstrip("/")
        return None

    def owners(self) -> set[str]:
        """The canonical URLs of the workers that own a partition of this table now."""
        changelog = self._table.changelog_topic.get_topic_name()
        return {str(url).rstrip("/") for url, topics in self._app.router.table_metadata(self._table.name).items()
                if topics.get(changelog)}

    async def route(self, view: View, request: Request, key: bytes,
                    local: LocalHandler) -> Response:
        owner = self.owner_url(key)
        me = str(self._app.conf.canonical_url).rstrip("/")
        if owner == me or request.headers.get(ROUTED_HEADER):
            return await local()
        if owner is None:
            return view.json({"error": "unavailable", "message": "partition not assigned yet; retry"},
                             status=503, headers={"Retry-After": "1"})
        return await self._forward(view, request, owner)

    async def _forward(self, view: View, request: Request, owner: str) -> Response:
        url = owner + request.url.raw_path_qs  # still percent-encoded, as the client sent it
        try:
            async with self._app.http_client.get(
                url, headers={ROUTED_HEADER: "1"}, timeout=self._timeout, ssl=self._tls
            ) as resp:
                body = await resp.read()
                return view.bytes(body, content_type=resp.content_type, status=resp.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return view.json({"error": "unavailable", "message": f"owner {owner} unreachable: {exc}"},
                             status=503, headers={"Retry-After": "1"})
