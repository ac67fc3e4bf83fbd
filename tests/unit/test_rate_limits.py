"""Rate limits: whose requests count under which quota (tables/rate_limits.py),
the share each of several gateways enforces, and the gateway's limiter
(gateway/rate_limit.py, the ``limits`` library's moving windows, in memory):
the quota is allowed, one more is refused with the time to wait, and one
caller's requests never spend another's."""

from __future__ import annotations

import pytest

from orderflow.gateway.rate_limit import RateLimiter
from orderflow.settings import Settings
from orderflow.tables import api_keys, rate_limits
from orderflow.tables.access import Caller, Scope
from orderflow.tables.rate_limits import Quota

DEFAULT = Quota(1000, 100)
CUSTOMER = Caller("cust_a", frozenset({Scope.CUSTOMER}))
SERVICE = Caller("shop", frozenset({Scope.SERVICE}))


def key_caller(per_hour: int, burst: int) -> tuple[Caller, dict]:
    record = api_keys.issue("partner", frozenset({Scope.SERVICE}), per_hour, burst, 1).record
    caller = api_keys.caller_of(record)
    assert caller is not None
    return caller, dict(record)


def test_a_key_has_its_own_quota_and_falls_back_to_the_default_where_it_sets_none() -> None:
    caller, record = key_caller(50, 5)
    assert rate_limits.quota_for(caller, record, DEFAULT, None) == Quota(50, 5)
    caller, record = key_caller(0, 0)
    assert rate_limits.quota_for(caller, record, DEFAULT, None) == DEFAULT


def test_customers_get_the_default_and_service_tokens_only_a_configured_quota() -> None:
    assert rate_limits.quota_for(CUSTOMER, None, DEFAULT, None) == DEFAULT
    assert rate_limits.quota_for(SERVICE, None, DEFAULT, None) is None
    assert rate_limits.quota_for(SERVICE, None, DEFAULT, Quota(10, 1)) == Quota(10, 1)


def test_requests_are_counted_per_key_per_customer_and_per_token_subject() -> None:
    caller, _ = key_caller(0, 0)
    assert rate_limits.identity(caller) == f"key:{caller.key_id}"
    assert rate_limits.identity(CUSTOMER) == "customer:cust_a"
    assert rate_limits.identity(SERVICE) == "token:shop"


@pytest.mark.parametrize(("instances", "share"), [(1, Quota(1000, 100)), (2, Quota(500, 50)), (3, Quota(333, 33)),
                                                  (1000, Quota(1, 1))])
def test_several_gateways_together_never_allow_more_than_the_quota(instances: int, share: Quota) -> None:
    assert DEFAULT.share(instances) == share
    if instances <= DEFAULT.burst:
        assert share.per_hour * instances <= DEFAULT.per_hour and share.burst * instances <= DEFAULT.burst


def test_the_policy_header_names_both_windows() -> None:
    assert rate_limits.policy_header(Quota(1000, 100)) == "1000;w=3600, 100;w=60"


def limiter(**fields: object) -> RateLimiter:
    return RateLimiter(Settings(bootstrap_servers="127.0.0.1:1", auth_shared_secret="s" * 32, **fields), None)


async def test_the_burst_is_allowed_and_one_more_is_refused_with_the_wait() -> None:
    rl = limiter(rate_limit_per_hour=1000, rate_limit_burst=3)
    quota = rl.quota_for(CUSTOMER)
    assert quota == Quota(1000, 3)
    verdicts = [await rl.hit("customer:cust_a", quota) for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert [v.remaining for v in verdicts] == [2, 1, 0, 0]
    refused = verdicts[-1].headers()
    assert 1 <= int(refused["Retry-After"]) <= 60 and refused["RateLimit-Remaining"] == "0"
    assert "Retry-After" not in verdicts[0].headers()


async def test_the_hour_is_enforced_beside_the_minute() -> None:
    rl = limiter(rate_limit_per_hour=2, rate_limit_burst=10)
    quota = rl.quota_for(CUSTOMER)
    assert quota is not None
    assert [(await rl.hit("c", quota)).allowed for _ in range(3)] == [True, True, False]
    assert 60 < int((await rl.hit("c", quota)).headers()["Retry-After"]) <= 3600


async def test_one_callers_requests_do_not_spend_anothers() -> None:
    rl = limiter(rate_limit_per_hour=1, rate_limit_burst=1)
    quota = rl.quota_for(CUSTOMER)
    assert quota is not None
    assert (await rl.hit("customer:a", quota)).allowed and not (await rl.hit("customer:a", quota)).allowed
    assert (await rl.hit("customer:b", quota)).allowed


def test_each_of_two_gateways_enforces_half_and_limits_can_be_switched_off() -> None:
    assert limiter(rate_limit_per_hour=10, rate_limit_burst=4, gateway_instances=2).quota_for(CUSTOMER) == Quota(5, 2)
    assert limiter(rate_limit_enabled=False).quota_for(CUSTOMER) is None
    assert limiter().quota_for(SERVICE) is None
