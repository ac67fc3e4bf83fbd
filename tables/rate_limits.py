"""How many requests a caller may make: the quota of each kind of caller and
the share of it one gateway enforces. Pure: the gateway's ``rate_limit``
middleware counts the requests (the ``limits`` library) and answers 429.

Two windows, both sliding: ``per_hour`` requests in any hour and, so that a
client cannot spend its hour in one second, ``burst`` requests in any minute.
Who is limited:

- an API key: its own quota (the gateway's default where the key sets 0);
- a customer's token: the default quota, per customer;
- a service or operator token: unlimited unless configured (they are minted
  by the operator for the deployment's own clients, the benchmark included).

With several gateways behind one load balancer each enforces ``1/instances``
of every quota, so all of them together never allow more than the quota
(and, with requests spread evenly, allow about that much): no shared store,
no request pays a round trip for counting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from orderflow.schemas.messages import ApiKey
from orderflow.tables.access import Caller

__all__ = ["HOUR_S", "MINUTE_S", "Quota", "identity", "policy_header", "quota_for", "seconds_until"]

HOUR_S = 3600
MINUTE_S = 60


@dataclass(frozen=True)
class Quota:
    per_hour: int
    burst: int  # per minute

    def share(self, instances: int) -> Quota:
        """What one of ``instances`` gateways allows, so that together they allow the quota."""
        if instances <= 1:
            return self
        return Quota(max(1, self.per_hour // instances), max(1, self.burst // instances))


def identity(caller: Caller) -> str:
    """The name requests are counted under."""
    if caller.key_id is not None:
        return f"key:{caller.key_id}"
    if caller.customer_only:
        return f"customer:{caller.subject}"
    return f"token:{caller.subject}"


def quota_for(caller: Caller, key: ApiKey | None, default: Quota, tokens: Quota | None) -> Quota | None:
    """The caller's quota; None: not limited. ``tokens`` is the quota of service
    and operator tokens (None: unlimited)."""
    if caller.key_id is not None:
        per_hour = key["perHour"] if key is not None and key["perHour"] > 0 else default.per_hour
        burst = key["burst"] if key is not None and key["burst"] > 0 else default.burst
        return Quota(per_hour, burst)
    if caller.customer_only:
        return default
    return tokens


def policy_header(quota: Quota) -> str:
    """``RateLimit-Policy`` (IETF httpapi rate-limit headers): both windows."""
    return f"{quota.per_hour};w={HOUR_S}, {quota.burst};w={MINUTE_S}"


def seconds_until(reset_at: float, now: float) -> int:
    """Whole seconds until a window frees a request (at least 1, as Retry-After wants)."""
    return max(1, math.ceil(reset_at - now))
