"""Authentication and rights over real HTTP, against the running gateway.

Every /api/v1 route refuses a request without a token, with an expired one,
with one signed by another key and with ``alg: none``: 401, a JSON error and
``WWW-Authenticate``. A customer's token reaches only its own orders and
record (another customer's are 404, as an unknown id is), places orders only
for itself (403) and calls no admin route (403). None of the refused
requests writes anything to Kafka. Health, readiness, metrics and the
description stay open, and an order read shows the payment method masked.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import ECKey
from support.http import Reply, get, request
from support.offsets import end_offsets
from support.saga import await_status, new_customer, new_id, place

from orderflow.gateway.openapi import OPERATIONS
from orderflow.signing import mint
from orderflow.stack import DevStack

pytestmark = pytest.mark.e2e

ADMIN = ("adjustInventory", "setPrice", "recordShipment", "refundPayment", "recentOrders", "clusterStatus",
         "deadLetters", "replayDeadLetter")
NOT_FOR_CUSTOMERS = (*ADMIN, "createCustomer", "getInventory", "listInventory")
FOR_ANY_CALLER = ("whoAmI", "listProducts")  # nobody's own: every valid token gets the same answer


@pytest.fixture(scope="module")
def world(stack: DevStack) -> dict[str, Any]:
    """Two customers, an order of the first (A), and a token for each customer."""
    a, b = new_customer(stack, "Ann"), new_customer(stack, "Bob")
    order = place(stack, [{"productId": new_id("prod"), "quantity": 1}], customer=a,
                  payment_method="pm_4242424242421234")
    await_status(stack, order, "rejected")  # no stock: the order exists and has ended
    return {"a": a, "b": b, "order": order,
            "token_a": stack.token("customer", subject=a), "token_b": stack.token("customer", subject=b)}


def calls(world: dict[str, Any]) -> dict[str, tuple[str, str, Any]]:
    """One well-formed request per /api/v1 operation: method, path, JSON body (None: no body)."""
    a, order = world["a"], world["order"]
    return {
        "placeOrder": ("POST", "/api/v1/orders", {"customerId": a, "paymentMethodId": "pm_1",
                                                  "items": [{"productId": "prod_auth", "quantity": 1}]}),
        "getOrder": ("GET", f"/api/v1/orders/{order}", None),
        "changeOrder": ("PUT", f"/api/v1/orders/{order}", {"items": [{"productId": "prod_auth", "quantity": 1}]}),
        "cancelOrder": ("POST", f"/api/v1/orders/{order}/cancel", {}),
        "orderEvents": ("GET", f"/api/v1/orders/{order}/events", None),
        "getOrderPayment": ("GET", f"/api/v1/orders/{order}/payment", None),
        "recordShipment": ("POST", f"/api/v1/orders/{order}/shipments", {"status": "shipped"}),
        "getShipment": ("GET", f"/api/v1/shipments/shp_{order}", None),
        "getPayment": ("GET", f"/api/v1/payments/pay_{order}", None),
        "refundPayment": ("POST", f"/api/v1/payments/pay_{order}/refund", {"reason": "goodwill"}),
        "customerOrders": ("GET", f"/api/v1/customers/{a}/orders", None),
        "createCustomer": ("POST", "/api/v1/customers", {"email": f"{new_id('auth')}@example.com"}),
        "getCustomer": ("GET", f"/api/v1/customers/{a}", None),
        "updateCustomer": ("PUT", f"/api/v1/customers/{a}", {"firstName": "Mallory"}),
        "getInventory": ("GET", "/api/v1/inventory/prod_auth", None),
        "adjustInventory": ("POST", "/api/v1/inventory/prod_auth/adjustments", {"type": "restock", "quantity": 5}),
        "getProduct": ("GET", "/api/v1/products/prod_auth", None),
        "setPrice": ("POST", "/api/v1/products/prod_auth/price", {"price": 1.0}),
        "whoAmI": ("GET", "/api/v1/me", None),
        "listProducts": ("GET", "/api/v1/products", None),
        "listInventory": ("GET", "/api/v1/inventory", None),
        "recentOrders": ("GET", "/api/v1/admin/recent-orders", None),
        "clusterStatus": ("GET", "/api/v1/admin/status", None),
        "deadLetters": ("GET", "/api/v1/admin/dead-letters", None),
        "replayDeadLetter": ("POST", "/api/v1/admin/dead-letters/0:0/replay", None),
    }


def call(stack: DevStack, method: str, path: str, body: Any, token: Any) -> Reply:
    data = None if body is None else json.dumps(body).encode()
    return request(method, stack.gateway_url + path, data, {"Content-Type": "application/json"}, token=token)


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def bad_tokens(stack: DevStack) -> dict[str, str | None]:
    claims = {"iss": stack.settings.auth_issuer, "aud": stack.settings.auth_audience, "sub": "intruder",
              "scope": "operator", "exp": int(time.time()) + 600}
    return {
        "none": None,
        "expired": stack.token("operator", ttl_s=60, now=time.time() - 3600),
        "another key": mint(ECKey.generate_key("P-256"), stack.settings, "intruder", ["operator"]),
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.",
        "not a JWT": "letmein",
    }


def test_the_description_lists_every_route_called_here(world: dict[str, Any]) -> None:
    assert set(calls(world)) == {op.operation_id for op in OPERATIONS if op.path.startswith("/api/v1/")}


def test_no_token_or_a_bad_one_is_a_401_on_every_route_and_writes_nothing(stack: DevStack,
                                                                          world: dict[str, Any]) -> None:
    before = end_offsets(stack.settings.kafka_servers)
    for kind, token in bad_tokens(stack).items():
        for operation, (method, path, body) in calls(world).items():
            reply = call(stack, method, path, body, token)
            what = f"{operation} with {kind}: {reply.status} {reply.body[:200]!r}"
            assert reply.status == 401, what
            assert reply.json()["error"] == "unauthorized", what
            assert reply.headers["WWW-Authenticate"].startswith('Bearer realm="orderflow"'), what
            if token is not None:
                assert 'error="invalid_token"' in reply.headers["WWW-Authenticate"], what
    assert end_offsets(stack.settings.kafka_servers) == before
    metrics = get(f"{stack.gateway_url}/metrics", token=None).body.decode()
    for reason in ("missing", "expired", "bad_signature", "bad_algorithm", "malformed"):
        assert f'orderflow_auth_refusals_total{{reason="{reason}"}}' in metrics, reason


def test_a_customer_sees_nothing_of_another_customer_and_calls_no_admin_route(stack: DevStack,
                                                                            world: dict[str, Any]) -> None:
    """Customer B against A's order and record: 404 as for an unknown id; A's order and
    every admin route: 403; nothing written, and A's order and record unchanged."""
    before = end_offsets(stack.settings.kafka_servers)
    intruder = world["token_b"]
    for operation, (method, path, body) in calls(world).items():
        reply = call(stack, method, path, body, intruder)
        what = f"{operation}: {reply.status} {reply.body[:200]!r}"
        if operation == "placeOrder":  # an order for customer A
            assert (reply.status, reply.json()["error"]) == (403, "forbidden"), what
        elif operation in NOT_FOR_CUSTOMERS:
            assert (reply.status, reply.json()["error"]) == (403, "forbidden"), what
            assert 'error="insufficient_scope"' in reply.headers["WWW-Authenticate"], what
        elif operation == "getProduct":
            assert reply.status == 404, what  # any caller may read products; this one has no stock row
        elif operation in FOR_ANY_CALLER:
            assert reply.status == 200, what
        else:
            assert (reply.status, reply.json()["error"]) == (404, "not_found"), what
    assert end_offsets(stack.settings.kafka_servers) == before
    # the 404 says what an unknown id's says
    unknown = call(stack, "GET", "/api/v1/orders/ord_auth_unknown", None, intruder)
    theirs = call(stack, "GET", f"/api/v1/orders/{world['order']}", None, intruder)
    assert unknown.json() == {"error": "not_found", "message": "no order 'ord_auth_unknown'"}
    assert theirs.json() == {"error": "not_found", "message": f"no order {world['order']!r}"}
    owner = call(stack, "GET", f"/api/v1/customers/{world['a']}", None, world["token_a"])
    assert owner.status == 200 and owner.json()["firstName"] == "Ann"


def test_a_customer_reads_its_own_order_with_the_payment_method_masked(stack: DevStack,
                                                                       world: dict[str, Any]) -> None:
    own = call(stack, "GET", f"/api/v1/orders/{world['order']}", None, world["token_a"])
    assert own.status == 200, own.body
    assert own.json()["customerId"] == world["a"]
    assert own.json()["paymentMethodId"] == "pm_****1234"
    listed = call(stack, "GET", f"/api/v1/customers/{world['a']}/orders", None, world["token_a"])
    assert listed.status == 200 and world["order"] in {o["orderId"] for o in listed.json()["orders"]}
    record = call(stack, "GET", f"/api/v1/customers/{world['a']}", None, world["token_a"])
    assert record.status == 200 and record.json()["customerId"] == world["a"]
    me = call(stack, "GET", "/api/v1/me", None, world["token_a"])
    assert me.json() == {"subject": world["a"], "scopes": ["customer"], "customerId": world["a"]}


def test_a_customer_places_an_order_for_itself(stack: DevStack, world: dict[str, Any]) -> None:
    body = {"customerId": world["b"], "paymentMethodId": "pm_1", "items": [{"productId": "prod_auth", "quantity": 1}]}
    reply = call(stack, "POST", "/api/v1/orders", body, world["token_b"])
    assert reply.status == 202, reply.body
    order = reply.json()["orderId"]
    seen = call(stack, "GET", f"/api/v1/orders/{order}?waitWhileStatus=pending&timeout=10", None, world["token_b"])
    assert seen.status == 200 and seen.json()["customerId"] == world["b"]
    assert call(stack, "GET", f"/api/v1/orders/{order}", None, world["token_a"]).status == 404


def test_a_customer_token_cannot_cancel_another_customers_order(stack: DevStack, world: dict[str, Any]) -> None:
    """Refused before the CancelOrder is written: the order ends as it would have without the request."""
    order = place(stack, [{"productId": new_id("prod"), "quantity": 1}], customer=world["a"])
    refused = call(stack, "POST", f"/api/v1/orders/{order}/cancel", {}, world["token_b"])
    assert refused.status == 404
    settled = await_status(stack, order, "rejected")
    assert [h["status"] for h in settled["statusHistory"]] == ["pending", "rejected"]


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/openapi.json"])
def test_health_readiness_metrics_and_the_description_need_no_token(stack: DevStack, path: str) -> None:
    assert request("GET", stack.gateway_url + path, token=None).status == 200


def test_a_gateway_with_auth_on_and_no_key_refuses_to_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERFLOW_")}
    env["ORDERFLOW_RUN_DIR"] = str(tmp_path)
    result = subprocess.run([sys.executable, "-P", "-m", "orderflow.cli", "gateway"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "no key is configured" in result.stderr and "ORDERFLOW_AUTH_PUBLIC_KEY_FILE" in result.stderr
