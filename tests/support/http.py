"""A small JSON-over-HTTP client for tests (stdlib only).

Requests to a gateway registered with ``authorize`` carry its token by
default (the stack fixtures register a service and operator token minted
from the stack's key), so a test that is not about rights needs no token
of its own; ``token=`` sends another one, ``token=None`` none at all. Over
https certificates are verified, against the system's roots and the CAs
registered with ``trust`` (the stacks' local CAs).
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orderflow.certs import client_context

__all__ = ["DEFAULT", "Reply", "authorize", "context_for", "get", "post_json", "put_json", "request", "trust"]

DEFAULT: Any = object()  # the token registered for the URL's gateway, if any
_TOKENS: dict[str, str] = {}  # gateway base URL -> the token sent by default
_TRUSTED = client_context(None)  # the system's roots and every CA ``trust`` was given


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def authorize(base_url: str, token: str, ca_file: Path | None = None) -> None:
    """Send ``token`` by default on every request under ``base_url``, and trust ``ca_file``."""
    _TOKENS[base_url.rstrip("/")] = token
    trust(ca_file)


def trust(ca_file: Path | None) -> None:
    """Check https servers' certificates against ``ca_file`` too (a stack's local CA: its gateway,
    workers and payment simulator)."""
    if ca_file is not None:
        _TRUSTED.load_verify_locations(cafile=str(ca_file))


def _under(url: str, base: str) -> bool:
    return url == base or url.startswith(f"{base}/") or url.startswith(f"{base}?")


def default_token(url: str) -> str | None:
    return next((t for base, t in _TOKENS.items() if _under(url, base)), None)


def context_for(url: str) -> ssl.SSLContext | None:
    return _TRUSTED if url.startswith("https:") else None


def request(method: str, url: str, body: bytes | None = None,
            headers: dict[str, str] | None = None, timeout: float = 10.0, token: Any = DEFAULT) -> Reply:
    chosen = default_token(url) if token is DEFAULT else token
    all_headers = {**({"Authorization": f"Bearer {chosen}"} if chosen is not None else {}), **(headers or {})}
    req = urllib.request.Request(url, data=body, method=method, headers=all_headers)  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context_for(url)) as resp:  # noqa: S310 - loopback
            return Reply(resp.status, dict(resp.headers), resp.read())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, dict(exc.headers), exc.read())


def get(url: str, **kw: Any) -> Reply:
    return request("GET", url, **kw)


def post_json(url: str, payload: Any, headers: dict[str, str] | None = None, token: Any = DEFAULT) -> Reply:
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return request("POST", url, json.dumps(payload).encode(), all_headers, token=token)


def put_json(url: str, payload: Any, token: Any = DEFAULT) -> Reply:
    return request("PUT", url, json.dumps(payload).encode(), {"Content-Type": "application/json"}, token=token)
