"""The gateway's authentication middleware: a thin adapter between aiohttp,
the token verifier (``gateway/tokens.py``) and the access rules
(``tables/access.py``).

For each request it finds the route's operation (its OpenAPI operationId)
and that operation's rule; a public route passes; any other needs
``Authorization: Bearer <JWT>`` or, from a partner or service client,
``X-API-Key: <key>`` (``tables/api_keys.py``; the keys are the gateway's copy
of ``auth.api-keys``, ``orderflow.apikeys``): missing or invalid is a 401
with a JSON error and ``WWW-Authenticate``; a valid token whose scopes the rule does not admit
is a 403. The caller is then left on the request (``caller(request)``) for the
handlers' own checks of whose order or record it is (404 when not the
caller's). With a JWKS URL the keys are fetched at start and again, at most
every ``JWKS_REFRESH_S``, when a token names a key id they lack.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import aiohttp
from aiohttp import web

from orderflow.apikeys import KeyFollower
from orderflow.gateway.errors import json_error
from orderflow.gateway.tokens import AuthConfigError, InvalidToken, UnknownKey, Verifier, verifier_for
from orderflow.metrics import AUTH_REFUSALS
from orderflow.settings import Settings
from orderflow.tables import access, api_keys

__all__ = ["API_KEY_HEADER", "AUTHENTICATOR", "CALLER", "Authenticator", "auth_middleware", "caller",
           "operation_ids"]

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REALM = "orderflow"
API_KEY_HEADER = "X-API-Key"
KEYS_CATCH_UP_S = 15.0
JWKS_REFRESH_S = 30.0
# With authentication off (a gateway behind another authenticating proxy) every request is this caller.
UNCHECKED = access.Caller("unauthenticated", frozenset(access.Scope))
CALLER = web.RequestKey("caller", access.Caller)


def normalised(path: str) -> str:
    """``/a/{order_id}`` (aiohttp) and ``/a/{orderId}`` (OpenAPI) are the same route."""
    return re.sub(r"{[^}]+}", "{}", path)


def operation_ids(operations: Iterable[Any]) -> dict[tuple[str, str], str]:
    """(METHOD, normalised path) -> operationId, from the OpenAPI operations."""
    return {(op.method.upper(), normalised(op.path)): op.operation_id for op in operations}


def caller(request: web.Request) -> access.Caller:
    """Who is calling: set by the middleware on every non-public route."""
    return request[CALLER]


class Authenticator:
    """The token verifier (with a JWKS URL, the fetching of its keys) and the API keys."""

    def __init__(self, settings: Settings, keys: KeyFollower | None = None) -> None:
        self.settings = settings
        self.enabled = settings.auth_enabled
        self.verifier: Verifier | None = verifier_for(settings) if self.enabled else None
        self.keys = keys if self.enabled else None
        self._jwks_at = -JWKS_REFRESH_S
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self.keys is not None:
            self.keys.start()
            if not await asyncio.to_thread(self.keys.wait_caught_up, KEYS_CATCH_UP_S):
                log.warning("the API keys were not read in %.0f s: keys are refused until they are", KEYS_CATCH_UP_S)
        if self.enabled and self.settings.auth_jwks_url:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.request_timeout_s))
            await self.refresh(required=True)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self.keys is not None:
            await asyncio.to_thread(self.keys.stop)

    def verify_key(self, key: str) -> access.Caller | None:
        """The API key's caller (None: no usable scope); InvalidToken if it is not a live key."""
        presented = api_keys.parse(key)
        if presented is None:
            raise InvalidToken("malformed_key", "the API key is not of the form ofk_<id>_<secret>")
        record = self.keys.get(presented.key_id) if self.keys is not None else None
        if not api_keys.verify(presented, record):
            raise InvalidToken("unknown_key", "the API key is unknown or revoked")
        assert record is not None  # noqa: S101 - verify() refuses None
        return api_keys.caller_of(record)

    async def refresh(self, required: bool = False) -> bool:
        """Fetch the JWKS again (at most every JWKS_REFRESH_S); whether the keys changed."""
        if self._session is None or time.monotonic() - self._jwks_at < JWKS_REFRESH_S:
            return False
        self._jwks_at = time.monotonic()
        try:
            async with self._session.get(self.settings.auth_jwks_url) as response:
                response.raise_for_status()
                document = await response.json(content_type=None)
            self.verifier = verifier_for(self.settings, document)
        except (aiohttp.ClientError, TimeoutError, ValueError, AuthConfigError) as exc:
            if required:
                raise AuthConfigError(f"the JWKS at {self.settings.auth_jwks_url} cannot be fetched: {exc}") from exc
            log.warning("refreshing the JWKS failed (keeping the keys held): %s", exc)
            return False
        return True

    async def verify(self, token: str) -> access.Caller | None:
        """The token's caller (None: no known scope); InvalidToken if it does not verify."""
        assert self.verifier is not None  # noqa: S101 - enabled means a verifier
        try:
            claims = self.verifier.verify(token)
        except UnknownKey:
            if not await self.refresh():
                raise
            claims = self.verifier.verify(token)
        return access.caller_from_claims(claims)


def _unauthorized(message: str, error: str | None = None) -> web.Response:
    challenge = f'Bearer realm="{REALM}"'
    if error is not None:
        description = message.replace('"', "'")
        challenge += f', error="{error}", error_description="{description}"'
    response = json_error(401, "unauthorized", message)
    response.headers["WWW-Authenticate"] = challenge
    return response


def _forbidden(rule: access.Rule) -> web.Response:
    needed = " ".join(sorted(s.value for s in access.ALLOWED.get(rule, frozenset())))
    response = json_error(403, "forbidden", "this token does not allow this operation")
    response.headers["WWW-Authenticate"] = f'Bearer realm="{REALM}", error="insufficient_scope", scope="{needed}"'
    return response


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def auth_middleware(authenticator: Authenticator, operations: dict[tuple[str, str], str]) -> Any:
    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        if resource is None:  # no route: aiohttp's own 404 or 405
            return await handler(request)
        method = "GET" if request.method == "HEAD" else request.method
        operation = operations.get((method, normalised(resource.canonical)))
        rule = access.rule_for(operation) if operation is not None else None
        if rule is None:  # a route without a rule: refused (create_gateway does not start with one)
            return json_error(403, "forbidden", "this route declares no access rule")
        if rule is access.Rule.PUBLIC:
            return await handler(request)
        if not authenticator.enabled:
            request[CALLER] = UNCHECKED
            return await handler(request)
        key, token = request.headers.get(API_KEY_HEADER), bearer(request)
        if key is None and token is None:
            AUTH_REFUSALS.labels("missing").inc()
            return _unauthorized(f"send Authorization: Bearer <token> or {API_KEY_HEADER}: <key>")
        try:
            who = authenticator.verify_key(key) if key is not None else await authenticator.verify(token or "")
        except InvalidToken as exc:
            AUTH_REFUSALS.labels(exc.reason).inc()
            return _unauthorized(str(exc), "invalid_token")
        if who is None or access.decide(who, rule) is not access.Decision.ALLOW:
            AUTH_REFUSALS.labels("insufficient_scope").inc()
            return _forbidden(rule)
        request[CALLER] = who
        return await handler(request)

    return authenticate


AUTHENTICATOR = web.AppKey("authenticator", Authenticator)
