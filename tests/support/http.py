"""A small JSON-over-HTTP client for tests (stdlib only)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

__all__ = ["Reply", "get", "post_json", "request"]


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(method: str, url: str, body: bytes | None = None,
            headers: dict[str, str] | None = None, timeout: float = 10.0) -> Reply:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback only
            return Reply(resp.status, dict(resp.headers), resp.read())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, dict(exc.headers), exc.read())


def get(url: str, **kw: Any) -> Reply:
    return request("GET", url, **kw)


def post_json(url: str, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return request("POST", url, json.dumps(payload).encode(), all_headers)


def put_json(url: str, payload: Any) -> Reply:
    return request("PUT", url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
