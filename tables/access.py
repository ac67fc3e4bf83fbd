"""Who may call which gateway route: the rule of each operation, and the
decision for one caller. Pure: no HTTP, no token parsing (the gateway's
``auth`` middleware verifies the token and hands its claims here).

A caller is the subject of a verified token and its scopes (the ``scope``
claim, space separated as in OAuth 2.0):

- ``customer``: the subject is a customerId; it may place orders for itself
  and read, list and cancel only its own orders and read and change only
  its own customer record. Another customer's order or record is "not
  found" (404, not 403), so a customer cannot learn which ids exist.
- ``service``: a machine client (a shop front, a sign-up service): every
  route but the admin ones, for any customer.
- ``operator``: every route, the admin ones included (stock adjustments,
  prices, shipments, dead letters, the console's status).

Each operation (by its OpenAPI operationId) has one ``Rule`` in ``RULES``;
a route without one is refused (the gateway will not start with such a
route, and ``tests/unit/test_access.py`` checks every route has one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

__all__ = ["RULES", "Caller", "Decision", "Rule", "Scope", "caller_from_claims", "decide", "may_see", "rule_for"]


class Scope(StrEnum):
    CUSTOMER = "customer"
    SERVICE = "service"
    OPERATOR = "operator"


class Rule(Enum):
    """Who may call an operation."""

    PUBLIC = "public"  # no token needed: health, readiness, metrics, the description
    ANY = "any"  # any valid token with a known scope
    OWNER = "owner"  # a customer on its own orders and record; service and operator on any
    SERVICE = "service"  # service or operator, not customers
    OPERATOR = "operator"  # the admin routes


# Which scopes pass each rule at the route (OWNER then checks the owner per request).
ALLOWED: Mapping[Rule, frozenset[Scope]] = {
    Rule.ANY: frozenset(Scope),
    Rule.OWNER: frozenset(Scope),
    Rule.SERVICE: frozenset({Scope.SERVICE, Scope.OPERATOR}),
    Rule.OPERATOR: frozenset({Scope.OPERATOR}),
}

RULES: Mapping[str, Rule] = {
    "healthz": Rule.PUBLIC,
    "readyz": Rule.PUBLIC,
    "metrics": Rule.PUBLIC,
    "openapi": Rule.PUBLIC,
    "home": Rule.PUBLIC,  # the pages and their scripts hold no data: they call the routes below with a token
    "shopPage": Rule.PUBLIC,
    "consolePage": Rule.PUBLIC,
    "pageAsset": Rule.PUBLIC,
    "whoAmI": Rule.ANY,
    "listProducts": Rule.ANY,
    "listInventory": Rule.SERVICE,
    "recentOrders": Rule.OPERATOR,
    "clusterStatus": Rule.OPERATOR,
    "deadLetters": Rule.OPERATOR,
    "replayDeadLetter": Rule.OPERATOR,
    "placeOrder": Rule.OWNER,
    "getOrder": Rule.OWNER,
    "cancelOrder": Rule.OWNER,
    "orderEvents": Rule.OWNER,
    "getOrderPayment": Rule.OWNER,
    "getPayment": Rule.OWNER,
    "changeOrder": Rule.OWNER,
    "refundPayment": Rule.OPERATOR,
    "getShipment": Rule.OWNER,
    "customerOrders": Rule.OWNER,
    "createCustomer": Rule.SERVICE,
    "getCustomer": Rule.OWNER,
    "updateCustomer": Rule.OWNER,
    "getProduct": Rule.ANY,
    "getInventory": Rule.SERVICE,
    "adjustInventory": Rule.OPERATOR,
    "setPrice": Rule.OPERATOR,
    "recordShipment": Rule.OPERATOR,
}


@dataclass(frozen=True)
class Caller:
    subject: str
    scopes: frozenset[Scope]
    key_id: str | None = None  # set when the caller presented an API key (tables/api_keys.py)

    @property
    def customer_only(self) -> bool:
        """A customer and nothing more: it sees only what is its own."""
        return not self.scopes & {Scope.SERVICE, Scope.OPERATOR}


class Decision(Enum):
    ALLOW = "allow"
    FORBIDDEN = "forbidden"  # 403: a valid token without the right


def caller_from_claims(claims: Mapping[str, Any]) -> Caller | None:
    """The caller a verified token's claims name; None without a subject or a known scope."""
    subject, scope = claims.get("sub"), claims.get("scope")
    if not isinstance(subject, str) or not subject or not isinstance(scope, str):
        return None
    known = {s.value for s in Scope}
    scopes = frozenset(Scope(s) for s in scope.split() if s in known)
    return Caller(subject, scopes) if scopes else None


def rule_for(operation_id: str) -> Rule | None:
    return RULES.get(operation_id)


def decide(caller: Caller, rule: Rule) -> Decision:
    """Whether the caller may call a route of this rule at all."""
    if rule is Rule.PUBLIC or caller.scopes & ALLOWED[rule]:
        return Decision.ALLOW
    return Decision.FORBIDDEN


def may_see(caller: Caller, customer_id: str) -> bool:
    """Whether the caller may see or act for this customer (its orders, its record);
    the gateway answers 404 when not, as for an id that does not exist."""
    return not caller.customer_only or caller.subject == customer_id
