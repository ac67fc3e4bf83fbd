"""The payment client against the real payment provider simulator, served on a
loopback port inside the test's event loop: no mocks, real HTTP.

Every test ends by checking the simulator's ledger: one payment per order,
never more than one capture or refund per payment (the ledger counts every
capture and refund that moved money, so a second one shows).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from support.http import get

from orderflow.agents.payment_client import PaymentProviderClient, ProviderRejected, ProviderUnavailable
from orderflow.ports import free_port
from orderflow.simulator import create_payment_provider

# Repeatable injected errors: the client's calls are sequential, so the
# simulator draws the same numbers for the same test on every run.
SEED = 20240611
API_KEY = "sk_test_orderflow"  # the key the test simulator accepts
RECOVERY_S = 0.3
FAST = {"timeout_s": 1.0, "attempts": 3, "backoff_initial_s": 0.005, "backoff_max_s": 0.02,
        "breaker_failures": 3, "breaker_recovery_s": RECOVERY_S}


class Simulator:
    """Scripting and ledger calls on the simulator, over HTTP."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url, self.session = base_url, session

    async def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                      api_key: str | None = API_KEY) -> tuple[int, dict[str, Any]]:
        sent = {**({"Authorization": f"Bearer {api_key}"} if api_key is not None else {}), **(headers or {})}
        async with self.session.request(method, self.base_url + path, json=body, headers=sent) as resp:
            return resp.status, await resp.json()

    async def behave(self, **fields: Any) -> dict[str, Any]:
        status, body = await self.request("PUT", "/_sim/behaviour", fields)
        assert status == 200, body
        return body

    async def ledger(self) -> dict[str, Any]:
        return (await self.request("GET", "/_sim/ledger"))[1]

    async def calls(self, endpoint: str) -> int:
        return (await self.ledger())["calls"].get(endpoint, 0)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    runner = web.AppRunner(create_payment_provider(API_KEY, seed=SEED), shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    async with aiohttp.ClientSession() as session:
        yield Simulator(f"http://{host}:{port}", session)
    await runner.cleanup()


@pytest.fixture
async def make_client(sim: Simulator) -> AsyncIterator[Callable[..., Awaitable[PaymentProviderClient]]]:
    clients: list[PaymentProviderClient] = []

    async def make(**overrides: Any) -> PaymentProviderClient:
        client = PaymentProviderClient(sim.base_url, **{"api_key": API_KEY, **FAST, **overrides})
        await client.start()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def until(probe: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    """Call (and await, if need be) ``probe()`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout}s (last: {result!r})")
        await asyncio.sleep(0.02)


def assert_nobody_charged_twice(ledger: dict[str, Any]) -> None:
    orders = [p["orderId"] for p in ledger["payments"]]
    assert len(orders) == len(set(orders)), f"an order was authorized twice: {ledger['payments']}"
    assert all(p["captures"] <= 1 and p["refunds"] <= 1 for p in ledger["payments"]), ledger["payments"]


async def authorize(client: PaymentProviderClient, order_id: str, amount_cents: int = 20000,
                    method: str = "pm_visa") -> Any:
    return await client.authorize(order_id, "cust_1", amount_cents, "EUR", method)


# ----------------------------------------------------------------------- happy path and declines


async def test_approved_payment_is_authorized_captured_and_refunded_in_cents(sim, make_client):
    client = await make_client()

    auth = await authorize(client, "ord_1", 19999)
    capture = await client.capture("ord_1", auth.payment_id, 19999)
    refund = await client.refund("ord_1", auth.payment_id, 19999, "customer cancelled")

    assert auth.approved and auth.payment_id and auth.error_code is None
    assert (capture.payment_id, capture.captured_cents) == (auth.payment_id, 19999)
    assert refund.refund_id and refund.refunded_cents == 19999
    _, payment = await sim.request("GET", f"/api/v1/payments/{auth.payment_id}")
    assert (payment["status"], payment["amount"], payment["orderId"]) == ("refunded", 199.99, "ord_1")
    ledger = await sim.ledger()
    assert (ledger["capturedTotal"], ledger["refundedTotal"]) == (199.99, 199.99)
    assert_nobody_charged_twice(ledger)


@pytest.mark.parametrize(("method", "code", "message"), [
    ("pm_insufficient_funds", "insufficient_funds", "Card declined - insufficient funds"),
    ("pm_card_declined", "card_declined", "Card declined"),
])
async def test_payment_method_on_the_decline_list_is_declined_without_a_payment(sim, make_client, method,
                                                                                   code, message):
    client = await make_client()

    auth = await authorize(client, "ord_declined", method=method)

    assert (auth.approved, auth.payment_id, auth.error_code, auth.error_message) == (False, None, code, message)
    ledger = await sim.ledger()
    assert ledger["payments"] == []
    assert ledger["declines"] == [{"orderId": "ord_declined", "paymentMethodId": method, "errorCode": code,
                                   "authorizeCalls": 1}]


async def test_decline_list_is_scripted_through_behaviour(sim, make_client):
    client = await make_client()
    await sim.behave(declineMethods={"pm_stolen": "stolen_card"})

    stolen = await authorize(client, "ord_stolen", method="pm_stolen")
    formerly_declined = await authorize(client, "ord_ok", method="pm_card_declined")

    assert (stolen.approved, stolen.error_code) == (False, "stolen_card")
    assert formerly_declined.approved


async def test_declines_and_rejections_are_answers_that_never_open_the_breaker(sim, make_client):
    client = await make_client(breaker_failures=1)

    for n in range(3):
        assert not (await authorize(client, f"ord_{n}", method="pm_card_declined")).approved
    with pytest.raises(ProviderRejected) as rejected:
        await client.capture("ord_x", "pay_unknown", 100)

    assert (rejected.value.status, rejected.value.error) == (404, "payment_not_found")
    assert await sim.calls("capture") == 1, "a 404 must not be retried"
    assert client.breaker_state == "closed"


# ----------------------------------------------------------------------- idempotency


async def test_repeating_every_step_charges_and_refunds_once(sim, make_client):
    client = await make_client()

    first, again = await authorize(client, "ord_twice"), await authorize(client, "ord_twice")
    captures = [await client.capture("ord_twice", first.payment_id, 20000) for _ in range(2)]
    refunds = [await client.refund("ord_twice", first.payment_id, 20000, "dup") for _ in range(2)]

    assert first == again
    assert captures[0] == captures[1] and refunds[0] == refunds[1]
    ledger = await sim.ledger()
    assert [(p["authorizeCalls"], p["captures"], p["refunds"]) for p in ledger["payments"]] == [(2, 1, 1)]
    assert (ledger["capturedTotal"], ledger["refundedTotal"]) == (200.0, 200.0)
    assert ledger["calls"] == {"authorize": 2, "capture": 2, "refund": 2}


async def test_authorize_without_idempotency_key_is_refused_with_a_json_error(sim):
    body = {"orderId": "o", "customerId": "c", "amount": 200.00, "currency": "EUR", "paymentMethodId": "pm"}

    status, answer = await sim.request("POST", "/api/v1/payments/authorize", body)

    assert (status, answer["error"]) == (400, "missing_idempotency_key") and answer["message"]
    assert (await sim.ledger())["payments"] == []


@pytest.mark.parametrize("api_key", [None, "sk_test_wrong", ""])
async def test_a_call_without_the_providers_api_key_is_refused_and_moves_nothing(sim, api_key):
    body = {"orderId": "o", "customerId": "c", "amount": 200.00, "currency": "EUR", "paymentMethodId": "pm"}

    status, answer = await sim.request("POST", "/api/v1/payments/authorize", body, {"Idempotency-Key": "k"},
                                       api_key=api_key)

    assert (status, answer["error"]) == (401, "unauthorized")
    ledger = await sim.ledger()
    assert ledger["payments"] == [] and ledger["calls"].get("authorize", 0) == 0


async def test_a_client_with_a_wrong_key_waits_for_it_to_be_fixed_and_declines_nobody(sim, make_client):
    client = await make_client(api_key="sk_test_wrong", attempts=2)

    with pytest.raises(ProviderUnavailable):  # not a decline: the order's payment is retried later
        await authorize(client, "ord_wrong_key", 500)

    assert (await sim.ledger())["calls"]["unauthorized"] == 2, "both attempts were made and refused"
    assert (await sim.ledger())["payments"] == []


def test_the_simulator_will_not_start_without_a_key_to_accept():
    with pytest.raises(ValueError, match="API key"):
        create_payment_provider("")


async def test_reusing_an_idempotency_key_for_another_order_is_a_conflict(sim):
    body = {"orderId": "o1", "customerId": "c", "amount": 200.00, "currency": "EUR", "paymentMethodId": "pm"}
    key = {"Idempotency-Key": "k1"}

    first, _ = await sim.request("POST", "/api/v1/payments/authorize", body, key)
    status, answer = await sim.request("POST", "/api/v1/payments/authorize", {**body, "orderId": "o2"}, key)

    assert (first, status, answer["error"]) == (200, 409, "idempotency_key_reused")
    assert len((await sim.ledger())["payments"]) == 1


async def test_a_capture_or_refund_under_another_key_moves_money_again_and_the_ledger_shows_it(sim):
    # What a client that lost its idempotency key would do: the check must catch it.
    _, auth = await sim.request("POST", "/api/v1/payments/authorize", {
        "orderId": "ord_split", "customerId": "cust_1", "amount": 200.0, "currency": "EUR",
        "paymentMethodId": "pm_visa"}, {"Idempotency-Key": "authorize-ord_split"})
    path = f"/api/v1/payments/{auth['paymentId']}"
    for step, key in (("capture", "capture-a"), ("capture", "capture-b"), ("refund", "refund-a"),
                      ("refund", "refund-b")):
        status, body = await sim.request("POST", f"{path}/{step}", {"amount": 50.0}, {"Idempotency-Key": key})
        assert status == 200, body
    ledger = await sim.ledger()
    assert [(p["captures"], p["capturedAmount"], p["refunds"], p["refundedAmount"])
            for p in ledger["payments"]] == [(2, 100.0, 2, 100.0)]
    with pytest.raises(AssertionError):
        assert_nobody_charged_twice(ledger)


async def test_a_capture_or_refund_without_an_idempotency_key_is_refused(sim):
    _, auth = await sim.request("POST", "/api/v1/payments/authorize", {
        "orderId": "ord_nokey", "customerId": "cust_1", "amount": 20.0, "currency": "EUR",
        "paymentMethodId": "pm_visa"}, {"Idempotency-Key": "authorize-ord_nokey"})
    for step in ("capture", "refund"):
        status, body = await sim.request("POST", f"/api/v1/payments/{auth['paymentId']}/{step}", {"amount": 20.0})
        assert (status, body["error"]) == (400, "missing_idempotency_key")
    assert [p["captures"] for p in (await sim.ledger())["payments"]] == [0]


async def test_refund_before_capture_and_capture_after_refund_are_conflicts(sim, make_client):
    client = await make_client()
    auth = await authorize(client, "ord_c")

    with pytest.raises(ProviderRejected) as early_refund:
        await client.refund("ord_c", auth.payment_id, 20000, "too early")
    await client.capture("ord_c", auth.payment_id, 20000)
    await client.refund("ord_c", auth.payment_id, 20000, "now")
    with pytest.raises(ProviderRejected) as late_capture:
        await client.capture("ord_c", auth.payment_id, 20000)

    assert (early_refund.value.status, early_refund.value.error) == (409, "payment_not_captured")
    assert (late_capture.value.status, late_capture.value.error) == (409, "payment_refunded")
    assert_nobody_charged_twice(await sim.ledger())


# ----------------------------------------------------------------------- failures


async def test_half_the_calls_failing_still_succeed_through_retries_without_double_charges(sim, make_client):
    client = await make_client(attempts=10)
    await sim.behave(errorRate=0.5)
    orders = [f"ord_flaky_{n}" for n in range(6)]

    for order_id in orders:
        auth = await authorize(client, order_id, 1000)
        assert (await client.capture(order_id, auth.payment_id, 1000)).captured_cents == 1000
        await client.refund(order_id, auth.payment_id, 400, "partial")

    ledger = await sim.ledger()
    assert sum(ledger["calls"].values()) > 3 * len(orders), "no call was retried"
    assert any(p["authorizeCalls"] > 1 for p in ledger["payments"]), "no reply was lost after its effect"
    assert sorted(p["orderId"] for p in ledger["payments"]) == orders
    assert (ledger["capturedTotal"], ledger["refundedTotal"]) == (60.0, 24.0)
    assert_nobody_charged_twice(ledger)


async def test_outage_exhausts_bounded_attempts_then_opens_the_breaker_until_recovery(sim, make_client):
    client = await make_client(attempts=3, breaker_failures=2)
    await sim.behave(outage=True)

    for _ in range(2):
        with pytest.raises(ProviderUnavailable) as exhausted:
            await authorize(client, "ord_outage")
        assert not exhausted.value.breaker_open
    assert await sim.calls("authorize") == 2 * 3
    assert client.breaker_state == "open"

    with pytest.raises(ProviderUnavailable) as fast:
        await authorize(client, "ord_outage")
    assert fast.value.breaker_open
    assert await sim.calls("authorize") == 2 * 3, "an open breaker must not reach the provider"

    await sim.behave(outage=False)
    await until(lambda: client.breaker_state == "half_open", timeout=RECOVERY_S + 2,
                what="breaker half-open after the recovery time")
    auth = await authorize(client, "ord_outage")

    assert auth.approved
    assert client.breaker_state == "closed"
    assert await sim.calls("authorize") == 2 * 3 + 1
    assert_nobody_charged_twice(await sim.ledger())


async def test_failed_trial_call_while_half_open_opens_the_breaker_again(sim, make_client):
    client = await make_client(attempts=1, breaker_failures=1)
    await sim.behave(outage=True)
    with pytest.raises(ProviderUnavailable):
        await authorize(client, "ord_trial")
    await until(lambda: client.breaker_state == "half_open", timeout=RECOVERY_S + 2)

    with pytest.raises(ProviderUnavailable) as trial:
        await authorize(client, "ord_trial")

    assert not trial.value.breaker_open, "the half-open breaker should have let the trial call through"
    assert client.breaker_state == "open"
    assert await sim.calls("authorize") == 2


async def test_answer_slower_than_the_timeout_is_unavailable_and_charges_once(sim, make_client):
    client = await make_client(timeout_s=0.05, attempts=2)
    await sim.behave(latencyMs=300)

    with pytest.raises(ProviderUnavailable):
        await authorize(client, "ord_slow")

    assert await sim.calls("authorize") == 2
    # The provider still acts on both late requests; the shared key makes it one payment.
    ledger = await until(lambda: _ledger_when(sim, lambda lg: lg["payments"]
                                             and lg["payments"][0]["authorizeCalls"] == 2),
                         what="both late authorize calls handled")
    assert len(ledger["payments"]) == 1
    assert_nobody_charged_twice(ledger)


async def _ledger_when(sim: Simulator, holds: Callable[[dict[str, Any]], Any]) -> dict[str, Any] | None:
    ledger = await sim.ledger()
    return ledger if holds(ledger) else None


# ----------------------------------------------------------------------- scripting and process


async def test_behaviour_put_merges_fields_and_reset_clears_state_and_behaviour(sim, make_client):
    client = await make_client()
    await sim.behave(latencyMs=5, errorRate=0.1)
    merged = await sim.behave(outage=False)
    await authorize(client, "ord_reset")

    status, bad = await sim.request("PUT", "/_sim/behaviour", {"errorRate": 2})
    reset_status, _ = await sim.request("POST", "/_sim/reset")

    assert (merged["latencyMs"], merged["errorRate"], merged["outage"]) == (5, 0.1, False)
    assert (status, bad["error"]) == (400, "invalid_behaviour")
    assert reset_status == 200
    assert (await sim.request("GET", "/_sim/behaviour"))[1] == {
        "latencyMs": 0.0, "errorRate": 0.0, "outage": False,
        "declineMethods": {"pm_insufficient_funds": "insufficient_funds", "pm_card_declined": "card_declined"}}
    assert await sim.ledger() == {"payments": [], "declines": [], "capturedTotal": 0.0, "refundedTotal": 0.0,
                                  "calls": {}}


async def test_unknown_routes_and_outage_answers_are_json_errors(sim):
    missing = await sim.request("GET", "/api/v1/nothing")
    await sim.behave(outage=True)
    down = await sim.request("GET", "/api/v1/payments/pay_x")
    health = await sim.request("GET", "/healthz")

    assert (missing[0], missing[1]["error"]) == (404, "not_found") and missing[1]["message"]
    assert (down[0], down[1]["error"]) == (503, "outage") and down[1]["message"]
    assert health[0] == 200, "an outage of the API is not an outage of the process"


def sim_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Each sample of a Prometheus text exposition: (name, sorted labels) -> value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_simulator_is_ready_and_its_metrics_count_its_own_calls(sim, make_client):
    client = await make_client()
    await client.capture("ord_m", (await authorize(client, "ord_m")).payment_id, 20000)
    await sim.behave(outage=True)
    ready = await sim.request("GET", "/readyz")
    async with sim.session.get(f"{sim.base_url}/metrics") as resp:
        status, content_type, text = resp.status, resp.content_type, await resp.text()

    assert ready == (200, {"ready": True, "status": "ready"}), "a scripted outage is not the process's"
    assert (status, content_type) == (200, "text/plain")
    samples = sim_samples(text)
    assert samples[("orderflow_payment_sim_calls_total", (("endpoint", "authorize"),))] == 1
    assert samples[("orderflow_payment_sim_calls_total", (("endpoint", "capture"),))] == 1
    assert samples[("orderflow_payment_sim_payments", (("status", "captured"),))] == 1
    assert samples[("orderflow_payment_sim_outage", ())] == 1
    # a second simulator in this process counts only its own calls
    other = web.AppRunner(create_payment_provider(API_KEY), shutdown_timeout=2)
    await other.setup()
    site = web.TCPSite(other, "127.0.0.1", 0)
    await site.start()
    host, port = other.addresses[0][:2]
    try:
        async with sim.session.get(f"http://{host}:{port}/metrics") as resp:
            fresh = sim_samples(await resp.text())
    finally:
        await other.cleanup()
    assert not [key for key in fresh if key[0] == "orderflow_payment_sim_calls_total"]
    assert fresh[("orderflow_payment_sim_outage", ())] == 0


def test_provider_process_serves_and_stops_cleanly_on_sigterm():
    port = free_port()
    code = ("from orderflow.simulator import run_payment_provider; "
            f"run_payment_provider('127.0.0.1', {port}, {API_KEY!r})")
    process = subprocess.Popen([sys.executable, "-P", "-c", code], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not _healthy(port):
            assert process.poll() is None and time.monotonic() < deadline, "simulator did not come up"
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output.decode()
    assert b"simulator stopped" in output


def _healthy(port: int) -> bool:
    try:
        return get(f"http://127.0.0.1:{port}/healthz", timeout=1).status == 200
    except OSError:
        return False
