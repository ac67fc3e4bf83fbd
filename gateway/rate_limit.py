"""The gateway's rate limiting: counts each authenticated caller's requests
against its quota (``tables/rate_limits.py``) with the ``limits`` library's
moving windows, answers 429 with ``Retry-After`` when one is spent, and puts
the IETF rate-limit headers (``RateLimit-Limit``, ``-Remaining``, ``-Reset``,
``-Policy``) on every limited answer, streamed ones included.

Runs after authentication (it needs the caller); public routes and callers
without a quota are not counted. The counts live in this process (a share
of each quota per gateway, ``Quota.share``), so counting costs no round trip.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from orderflow.apikeys import KeyFollower
from orderflow.gateway.auth import CALLER
from orderflow.gateway.errors import Handler, json_error
from orderflow.metrics import RATE_LIMITED
from orderflow.settings import Settings
from orderflow.tables import rate_limits
from orderflow.tables.access import Caller
from orderflow.tables.rate_limits import Quota

__all__ = ["RATE_LIMITER", "RateLimiter", "Verdict", "add_rate_limit_headers", "rate_limit_middleware"]


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    quota: Quota
    remaining: int
    reset_s: int  # until the tighter window frees a request

    def headers(self) -> dict[str, str]:
        headers = {"RateLimit-Limit": str(self.quota.per_hour), "RateLimit-Remaining": str(self.remaining),
                   "RateLimit-Reset": str(self.reset_s), "RateLimit-Policy": rate_limits.policy_header(self.quota)}
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_s)
        return headers


class RateLimiter:
    """Each caller's two moving windows, in this process's memory."""

    def __init__(self, settings: Settings, keys: KeyFollower | None) -> None:
        self.enabled = settings.rate_limit_enabled
        self.instances = settings.gateway_instances
        self.default = Quota(settings.rate_limit_per_hour, settings.rate_limit_burst)
        per_hour = settings.rate_limit_tokens_per_hour
        self.tokens = Quota(per_hour, settings.rate_limit_tokens_burst or max(1, per_hour // 60)) if per_hour else None
        self._keys = keys
        self._windows = MovingWindowRateLimiter(MemoryStorage())
        self._items: dict[Quota, tuple[RateLimitItem, RateLimitItem]] = {}

    def quota_for(self, caller: Caller) -> Quota | None:
        if not self.enabled:
            return None
        key = self._keys.get(caller.key_id) if self._keys is not None and caller.key_id else None
        quota = rate_limits.quota_for(caller, key, self.default, self.tokens)
        return quota.share(self.instances) if quota is not None else None

    def _items_of(self, quota: Quota) -> tuple[RateLimitItem, RateLimitItem]:
        items = self._items.get(quota)
        if items is None:
            items = self._items[quota] = (RateLimitItemPerMinute(quota.burst), RateLimitItemPerHour(quota.per_hour))
        return items

    async def hit(self, who: str, quota: Quota) -> Verdict:
        """Count one request of ``who`` if both windows have room."""
        items = self._items_of(quota)
        allowed = all([await self._windows.test(item, who) for item in items])
        if allowed:
            for item in items:
                await self._windows.hit(item, who)
        stats = [await self._windows.get_window_stats(item, who) for item in items]
        now = time.time()
        spent = [s for s in stats if s.remaining == 0] or stats
        reset_s = min(rate_limits.seconds_until(s.reset_time, now) for s in spent)
        return Verdict(allowed, quota, min(s.remaining for s in stats), reset_s)


RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
VERDICT = web.RequestKey("rate_limit_verdict", Verdict)


def rate_limit_middleware(limiter: RateLimiter) -> Any:
    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        who = request.get(CALLER)
        quota = limiter.quota_for(who) if who is not None else None
        if who is None or quota is None:
            return await handler(request)
        counted_as = rate_limits.identity(who)
        verdict = await limiter.hit(counted_as, quota)
        if not verdict.allowed:
            RATE_LIMITED.labels(counted_as.partition(":")[0]).inc()
            response = json_error(429, "rate_limited",
                                  f"this caller's rate limit is spent; retry in {verdict.reset_s} s",
                                  retryAfterSeconds=verdict.reset_s)
            response.headers.update(verdict.headers())
            return response
        request[VERDICT] = verdict
        return await handler(request)

    return limit


async def add_rate_limit_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: the headers of the request's verdict, on whatever answer it gets."""
    verdict = request.get(VERDICT)
    if verdict is not None:
        response.headers.update(verdict.headers())
