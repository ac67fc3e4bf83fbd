"""JSON error bodies for every 4xx and 5xx the gateway gives, including the
ones aiohttp raises itself (unknown route, wrong method, body too large)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from orderflow.gateway.tracking import WorkersUnavailable

__all__ = ["RequestRejected", "error_middleware", "json_error"]

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(status: int, error: str, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": error, "message": message, **extra}, status=status)


class RequestRejected(Exception):
    """Raised by a handler's helpers to answer with a JSON error at once."""

    def __init__(self, status: int, error: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.response = json_error(status, error, message, **extra)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RequestRejected as exc:
        return exc.response
    except WorkersUnavailable as exc:
        # a read the workers could not answer now (down, or rebalancing)
        return json_error(503, "unavailable", f"no worker answered: {exc}")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return json_error(exc.status, exc.reason.lower().replace(" ", "_"), _message(request, exc))
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, "internal_error", "the gateway failed; the request may be retried")


def _message(request: web.Request, exc: web.HTTPException) -> str:
    if exc.status == 404:
        return f"no such resource: {request.path}"
    if exc.status == 405:
        return f"{request.method} is not allowed on {request.path}"
    return exc.text or exc.reason
