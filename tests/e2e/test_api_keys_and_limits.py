"""API keys and rate limits over real HTTP, against the running gateway and
the keys it reads from Kafka.

The operator's ``orderflow api-key`` commands issue a key (printed once,
stored hashed), list it and revoke it; the gateway admits the key at once
and refuses it once revoked. A key with a quota gets its quota and then 429
with ``Retry-After`` and the rate-limit headers, while another key is not
affected; a customer's token gets the default quota. Two gateways that
share the load (``ORDERFLOW_GATEWAY_INSTANCES=2``) together allow no more
than the key's quota. A paid order's payment method id is in no log line of
any process, and every call to the payment provider carried its API key.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from support.http import Reply, get, post_json
from support.offsets import end_offsets
from support.saga import await_status, ledger, new_id, place, seed_stock
from support.waiting import eventually

from orderflow.apikeys import issue_key, read_keys
from orderflow.ports import free_port
from orderflow.processes import wait_http_ok
from orderflow.schemas.codec import Codec
from orderflow.stack import DevStack
from orderflow.tables.access import Scope

pytestmark = pytest.mark.e2e

SERVICE = frozenset({Scope.SERVICE})
# a service route (a key or a service token, not a customer); no such product, so an admitted call is a 404
INVENTORY = "/api/v1/inventory/prod_keys"
RESTOCK = "/api/v1/inventory/prod_keys/adjustments"  # an operator route: a service key is refused


def with_key(url: str, key: str) -> Reply:
    return get(url, headers={"X-API-Key": key}, token=None)


def cli(stack: DevStack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-P", "-m", "orderflow.cli", "api-key", *args], env=stack.environment(),
                          capture_output=True, text=True, timeout=60, check=False)


def admitted(url: str, key: str) -> bool:
    """Past authentication and the limit: the gateway looked the product up."""
    return with_key(url, key).status == 404


def test_an_issued_key_works_at_once_is_listed_without_its_secret_and_stops_when_revoked(stack: DevStack) -> None:
    issued = cli(stack, "issue", "partner shop", "--per-hour", "500")
    assert issued.returncode == 0, issued.stderr
    key = issued.stdout.strip()
    key_id = key.split("_")[1]
    eventually(lambda: admitted(stack.gateway_url + INVENTORY, key), 15, "the gateway admits the new key")

    listed = cli(stack, "list")
    assert listed.returncode == 0, listed.stderr
    line = next(ln for ln in listed.stdout.splitlines() if ln.startswith(key_id))
    assert "active" in line and "partner shop" in line and "500/h" in line
    stored = read_keys(stack.settings.kafka, Codec())[key_id]
    assert key.split("_", 2)[2] not in listed.stdout + str(stored), "the secret is shown once and never stored"

    revoked = cli(stack, "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    eventually(lambda: with_key(stack.gateway_url + INVENTORY, key).status == 401, 15, "the revoked key is refused")
    refused = with_key(stack.gateway_url + INVENTORY, key)
    assert refused.json()["error"] == "unauthorized" and "revoked" in refused.json()["message"]
    assert "revoked" in next(ln for ln in cli(stack, "list").stdout.splitlines() if ln.startswith(key_id))


def test_an_unknown_or_malformed_key_is_a_401_and_a_service_key_on_an_admin_route_a_403(stack: DevStack) -> None:
    before = end_offsets(stack.settings.kafka)
    for key in ("ofk_0123456789ab_" + "x" * 43, "not-a-key"):
        reply = post_json(stack.gateway_url + RESTOCK, {"type": "restock", "quantity": 5},
                          headers={"X-API-Key": key}, token=None)
        assert reply.status == 401 and reply.headers["WWW-Authenticate"].startswith("Bearer"), key
    service = issue_key(stack.settings.kafka, Codec(), "shop", SERVICE).key
    eventually(lambda: admitted(stack.gateway_url + INVENTORY, service), 15, "the gateway admits the key")
    assert post_json(stack.gateway_url + RESTOCK, {"type": "restock", "quantity": 5},
                     headers={"X-API-Key": service}, token=None).status == 403
    assert end_offsets(stack.settings.kafka) == before, "no refused request wrote to Kafka"


def test_a_keys_quota_then_429_with_retry_after_and_another_key_is_not_affected(stack: DevStack) -> None:
    codec = Codec()
    limited = issue_key(stack.settings.kafka, codec, "small partner", SERVICE, per_hour=3, burst=3).key
    other = issue_key(stack.settings.kafka, codec, "other partner", SERVICE, per_hour=3, burst=3).key
    url = stack.gateway_url + INVENTORY
    eventually(lambda: admitted(url, limited), 15, "the gateway admits the key")  # the first of its three
    answers = [with_key(url, limited) for _ in range(3)]
    assert [a.status for a in answers] == [404, 404, 429]
    assert answers[0].headers["RateLimit-Limit"] == "3" and answers[0].headers["RateLimit-Remaining"] == "1"
    assert answers[0].headers["RateLimit-Policy"] == "3;w=3600, 3;w=60"
    refused = answers[-1]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60 and refused.headers["RateLimit-Remaining"] == "0"
    assert refused.json()["error"] == "rate_limited" and refused.json()["retryAfterSeconds"] >= 1
    assert admitted(url, other), "another key has its own quota"


def test_a_customer_gets_the_default_quota_per_customer(stack: DevStack) -> None:
    burst = stack.settings.rate_limit_burst
    mine = stack.token("customer", subject="cust_quota_a")
    url = f"{stack.gateway_url}/api/v1/customers/cust_quota_a"  # not registered: 404, counted all the same
    statuses = [get(url, token=mine).status for _ in range(burst + 1)]
    assert statuses[:burst] == [404] * burst and statuses[-1] == 429
    neighbour = stack.token("customer", subject="cust_quota_b")
    assert get(f"{stack.gateway_url}/api/v1/customers/cust_quota_b", token=neighbour).status == 404


@pytest.fixture
def two_gateways(stack: DevStack) -> Iterator[list[str]]:
    """Two more gateways on the stack that share one load (each enforces half of every quota)."""
    ports = [free_port(), free_port()]
    children = [stack.launch_gateway(f"gateway-shared-{i}", gateway_port=port, gateway_instances=2)
                for i, port in enumerate(ports)]
    try:
        urls = [stack.settings.model_copy(update={"gateway_port": port}).gateway_url for port in ports]
        for child, url in zip(children, urls, strict=True):
            wait_http_ok(f"{url}/healthz", child, 60, stack.ca_file)
        yield urls
    finally:
        for child in children:
            stack.stop_gateway(child)


def test_two_gateways_sharing_the_load_together_allow_the_quota_and_no_more(stack: DevStack,
                                                                            two_gateways: list[str]) -> None:
    key = issue_key(stack.settings.kafka, Codec(), "spread partner", SERVICE, per_hour=4, burst=4).key
    first, second = (url + INVENTORY for url in two_gateways)
    eventually(lambda: admitted(first, key), 15, "the first gateway admits the key")
    eventually(lambda: admitted(second, key), 15, "the second gateway admits the key")
    # each has now allowed one of its two; round robin, as a load balancer spreads them
    statuses = [with_key(url, key).status for url in (first, second, first, second)]
    assert statuses == [404, 404, 429, 429], "four in all, the quota, and no more"


def test_a_paid_order_leaves_its_payment_method_in_no_log_and_the_provider_saw_our_key(stack: DevStack) -> None:
    product, method = new_id("prod"), "pm_5555444433331111"
    seed_stock(stack, product, 5)
    order = place(stack, [{"productId": product, "quantity": 1}], payment_method=method)
    await_status(stack, order, "confirmed")
    assert ledger(stack)["calls"].get("unauthorized", 0) == 0, "every call to the provider carried its key"
    for log in stack.log_dir.glob("*.log"):
        assert method not in log.read_text(errors="replace"), log.name
