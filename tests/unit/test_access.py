"""Who may call which route (tables/access.py): the rule of every operation,
and the decision for customers, services and operators. Pure, no HTTP."""

from __future__ import annotations

import pytest

from orderflow.gateway.app import create_gateway
from orderflow.gateway.auth import normalised, operation_ids
from orderflow.gateway.openapi import OPERATIONS
from orderflow.settings import Settings
from orderflow.tables.access import RULES, Caller, Decision, Rule, Scope, caller_from_claims, decide, may_see

CUSTOMER = Caller("cust_a", frozenset({Scope.CUSTOMER}))
SERVICE = Caller("shop", frozenset({Scope.SERVICE}))
OPERATOR = Caller("ops", frozenset({Scope.OPERATOR}))
ADMIN = ("adjustInventory", "setPrice", "recordShipment", "refundPayment", "recentOrders", "clusterStatus",
         "deadLetters", "replayDeadLetter")
OPEN = ("healthz", "readyz", "metrics", "openapi")
PAGES = ("home", "shopPage", "consolePage", "pageAsset")  # static files: the data behind them needs a token


def allowed(caller: Caller) -> set[str]:
    return {op for op, rule in RULES.items() if decide(caller, rule) is Decision.ALLOW}


def test_every_operation_of_the_description_has_a_rule_and_nothing_else() -> None:
    assert {op.operation_id for op in OPERATIONS} == set(RULES)


def test_every_served_route_maps_to_an_operation_with_a_rule() -> None:
    app = create_gateway(Settings(bootstrap_servers="127.0.0.1:1", auth_shared_secret="s" * 32))
    operations = operation_ids(OPERATIONS)
    for route in app.router.routes():
        if route.method != "HEAD":
            assert operations[(route.method, normalised(route.resource.canonical))] in RULES


def test_only_health_readiness_metrics_the_description_and_the_pages_files_are_open() -> None:
    assert {op for op, rule in RULES.items() if rule is Rule.PUBLIC} == set(OPEN) | set(PAGES)


def test_a_customer_calls_its_own_routes_and_products_but_no_admin_or_stock_route() -> None:
    assert allowed(CUSTOMER) == set(OPEN) | set(PAGES) | {"whoAmI", "listProducts", "placeOrder", "getOrder",
                                                          "changeOrder", "cancelOrder", "orderEvents",
                                                          "getOrderPayment", "getPayment", "getShipment",
                                                          "customerOrders", "getCustomer", "updateCustomer",
                                                          "getProduct"}


def test_a_service_calls_everything_but_the_admin_routes() -> None:
    assert allowed(SERVICE) == set(RULES) - set(ADMIN)


def test_an_operator_calls_every_route() -> None:
    assert allowed(OPERATOR) == set(RULES)


def test_a_customer_sees_only_itself_and_the_others_see_anyone() -> None:
    assert may_see(CUSTOMER, "cust_a") and not may_see(CUSTOMER, "cust_b")
    assert may_see(SERVICE, "cust_b") and may_see(OPERATOR, "cust_b")
    # a customer token that also has the service scope is a service
    assert may_see(Caller("cust_a", frozenset({Scope.CUSTOMER, Scope.SERVICE})), "cust_b")


@pytest.mark.parametrize(("claims", "expected"), [
    ({"sub": "cust_a", "scope": "customer"}, CUSTOMER),
    ({"sub": "ops", "scope": "openid operator profile"}, OPERATOR),
    ({"sub": "x", "scope": "admin root"}, None),  # no scope of ours
    ({"sub": "x"}, None),
    ({"sub": "", "scope": "operator"}, None),
    ({"scope": "operator"}, None),
    ({"sub": "x", "scope": ["operator"]}, None),  # scope is a space-separated string
])
def test_the_caller_comes_from_the_subject_and_the_scope_claim(claims: dict, expected: Caller | None) -> None:
    assert caller_from_claims(claims) == expected
