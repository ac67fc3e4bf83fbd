"""Fuzzing the running gateway with schemathesis, from its own /openapi.json.

Every operation gets valid (positive) and invalid (negative) requests, with
a valid token (service and operator scopes). Either
way the gateway never answers 5xx, and every 4xx is a JSON object with
"error" and "message". Without a token every /api/v1 operation answers
only 401 (with WWW-Authenticate) and writes nothing. While an operation's invalid requests are sent,
nothing is written to Kafka: the end offsets of the topics the gateway writes
do not move. Valid requests do write (orders for unknown customers, stock for
made-up products); every id is random, so other tests never see them.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from support.http import default_token, post_json, request
from support.offsets import GATEWAY_TOPICS, end_offsets

from orderflow.gateway.openapi import OPERATIONS, Operation
from orderflow.schemas import catalog
from orderflow.stack import DevStack

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = 25
# An unknown order's event stream waits 5 s for the order to appear; a new
# customer waits for the workers' decision (up to 10 s on a busy machine).
FEWER_EXAMPLES = {"orderEvents": 3, "createCustomer": 8}
LONG_POLL_S = 0.2  # generated long-poll timeouts are cut to this, so the run stays short
TAKES_INPUT = [op for op in OPERATIONS if op.body or op.query or op.headers or "{" in op.path]
WITH_PATH_ID = [op for op in OPERATIONS if "{" in op.path]
PROTECTED = [op for op in OPERATIONS if op.path.startswith("/api/v1/")]
UNAUTHORIZED_EXAMPLES = 5  # per operation and mode: every answer is the same 401


@pytest.fixture(scope="module")
def api(stack: DevStack) -> Any:
    schema = schemathesis.openapi.from_url(f"{stack.gateway_url}/openapi.json", verify=verify(stack))
    # The Authorization header is ours to send (a valid token, or none), not generated: else an
    # invalid case whose only fault was its token would be made valid by the token sent with it.
    schema.config.generation.update(with_security_parameters=False)
    return schema


def shorten_long_poll(case: Any) -> None:
    raw = (case.query or {}).get("timeout")
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        return  # not a number: the gateway must refuse it, keep it
    if math.isfinite(seconds) and seconds > LONG_POLL_S:
        case.query["timeout"] = LONG_POLL_S


def assert_sound_answer(case: Any, response: Any) -> None:
    what = f"{case.method} {case.formatted_path} query={case.query} body={case.body!r}"
    assert response.status_code < 500, f"{what} -> {response.status_code} {response.content[:300]!r}"
    if 400 <= response.status_code < 500:
        assert response.headers.get("content-type", [""])[0].startswith("application/json"), what
        body = json.loads(response.content)
        assert isinstance(body, dict) and isinstance(body.get("error"), str) \
            and isinstance(body.get("message"), str), f"{what} -> {body!r}"


def unrouted(response: Any) -> bool:
    """aiohttp's own 404 for a path no route matches (an invalid id can make one, e.g. an empty segment)."""
    return response.status_code == 404 and json.loads(response.content)["message"].startswith("no such resource")


def verify(stack: DevStack) -> str | bool:
    """What requests checks the gateway's certificate against: the stack's CA."""
    return str(stack.ca_file) if stack.ca_file else True


def fuzz(api: Any, stack: DevStack, op: Operation, mode: GenerationMode, authorized: bool = True) -> list[str]:
    """Send the generated requests (with the tests' token unless not ``authorized``); those the
    gateway accepted (2xx)."""
    operation = api[op.path][op.method.upper()]
    accepted: list[str] = []
    headers = {"Authorization": f"Bearer {default_token(stack.gateway_url)}"} if authorized else {}

    examples = FEWER_EXAMPLES.get(op.operation_id, MAX_EXAMPLES) if authorized else UNAUTHORIZED_EXAMPLES

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def send(case: Any) -> None:
        shorten_long_poll(case)
        response = case.call(base_url=stack.gateway_url, timeout=30, headers=headers, verify=verify(stack))
        assert_sound_answer(case, response)
        if not authorized and not unrouted(response):
            assert response.status_code == 401, f"{case.method} {case.formatted_path} -> {response.status_code}"
            assert response.headers.get("www-authenticate", [""])[0].startswith("Bearer")
        if response.status_code < 300:
            accepted.append(f"{case.formatted_path} query={case.query} body={case.body!r} "
                            f"-> {response.status_code}")

    send()
    return accepted


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.operation_id)
def test_valid_requests_get_no_server_error(api: Any, stack: DevStack, op: Operation) -> None:
    fuzz(api, stack, op, GenerationMode.POSITIVE)


@pytest.mark.parametrize("op", TAKES_INPUT, ids=lambda op: op.operation_id)
def test_invalid_requests_get_json_4xx_and_write_nothing(api: Any, stack: DevStack, op: Operation) -> None:
    servers = stack.settings.kafka_servers
    before = end_offsets(servers)
    accepted = fuzz(api, stack, op, GenerationMode.NEGATIVE)
    after = end_offsets(servers)
    assert after == before, f"invalid requests wrote to Kafka; accepted: {accepted}"


# an operation that takes no input has no invalid request to make
UNAUTHORIZED_CASES = [pytest.param(op, mode, id=f"{mode.value}-{op.operation_id}") for op in PROTECTED
                      for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
                      if mode is GenerationMode.POSITIVE or op in TAKES_INPUT]


@pytest.mark.parametrize(("op", "mode"), UNAUTHORIZED_CASES)
def test_without_a_token_every_request_is_a_401_and_writes_nothing(api: Any, stack: DevStack, op: Operation,
                                                                 mode: GenerationMode) -> None:
    servers = stack.settings.kafka_servers
    before = end_offsets(servers)
    assert fuzz(api, stack, op, mode, authorized=False) == []
    assert end_offsets(servers) == before


def test_the_offsets_probe_sees_a_write(api: Any, stack: DevStack) -> None:
    """The no-write assertion above can fail: a valid admin write moves the offsets."""
    assert set(GATEWAY_TOPICS) == {spec.name for spec in (
        catalog.ORDER_COMMANDS, catalog.INVENTORY_ADJUSTMENTS, catalog.PRICES, catalog.SHIPMENT_CORRECTIONS,
        catalog.CUSTOMER_COMMANDS, catalog.PAYMENT_REFUNDS)}
    servers = stack.settings.kafka_servers
    before = end_offsets(servers)
    response = api["/api/v1/products/{productId}/price"]["POST"].Case(
        path_parameters={"productId": "prod_fuzz_probe"}, body={"price": 1.5},
        media_type="application/json").call(base_url=stack.gateway_url, timeout=30, verify=verify(stack),
                                            headers={"Authorization": f"Bearer {default_token(stack.gateway_url)}"})
    assert response.status_code == 202
    assert end_offsets(servers)[catalog.PRICES.name] == before[catalog.PRICES.name] + 1


@pytest.mark.parametrize("op", WITH_PATH_ID, ids=lambda op: op.operation_id)
@pytest.mark.parametrize("segment", ["..", ".", "%2E%2E"])
def test_a_dot_segment_id_is_a_json_400(stack: DevStack, op: Operation, segment: str) -> None:
    """Found by probing the id pattern: ``.`` and ``..`` match it, but the worker
    read for them went to a normalised URL and the gateway answered 500."""
    path = op.path.split("{")[0] + segment + op.path.split("}")[1]
    body = b"{}" if op.method in ("post", "put") else None
    reply = request(op.method.upper(), stack.gateway_url + path, body, {"Content-Type": "application/json"})
    assert reply.status == 400, reply.body
    assert reply.json()["error"] == "invalid_request"


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/products/prod_fuzz/price", {"price": 1, "effectiveAt": 2**63}),  # no Avro long: was a 500
    ("/api/v1/orders/ord_fuzz/cancel", 0),  # not an object: was taken for no body
    ("/api/v1/orders/ord_fuzz/cancel", []),
])
def test_what_the_fuzzer_found_is_a_json_400(stack: DevStack, path: str, body: Any) -> None:
    reply = post_json(stack.gateway_url + path, body)
    assert reply.status == 400, reply.body
    assert reply.json()["error"] == "invalid_request"
