"""API keys (tables/api_keys.py): issued keys verify, anything else does not,
a revoked key stops working, and only the secret's hash is stored. Pure."""

from __future__ import annotations

import pytest

from orderflow.tables import api_keys
from orderflow.tables.access import Scope

SERVICE = frozenset({Scope.SERVICE})


def test_an_issued_key_verifies_against_its_record_and_the_record_holds_no_secret() -> None:
    issued = api_keys.issue("partner shop", SERVICE, 500, 20, now_ms=1_000)
    presented = api_keys.parse(issued.key)
    assert presented is not None and presented.key_id == issued.record["keyId"]
    assert api_keys.verify(presented, issued.record)
    assert presented.secret not in str(issued.record)
    assert issued.record["secretSha256"] == api_keys.sha256_hex(presented.secret)
    assert (issued.record["perHour"], issued.record["burst"], issued.record["scopes"]) == (500, 20, ["service"])


def test_a_wrong_secret_another_keys_record_or_no_record_does_not_verify() -> None:
    one, other = api_keys.issue("a", SERVICE, 0, 0, 1), api_keys.issue("b", SERVICE, 0, 0, 1)
    presented = api_keys.parse(one.key)
    assert presented is not None
    last = "A" if presented.secret[-1] != "A" else "B"
    tampered = api_keys.Presented(presented.key_id, presented.secret[:-1] + last)
    assert not api_keys.verify(tampered, one.record)
    assert not api_keys.verify(presented, other.record)
    assert not api_keys.verify(presented, None)


def test_a_revoked_key_no_longer_verifies_and_revoking_again_keeps_the_first_time() -> None:
    issued = api_keys.issue("a", SERVICE, 0, 0, 1)
    presented = api_keys.parse(issued.key)
    assert presented is not None
    ended = api_keys.revoked(issued.record, now_ms=5)
    assert ended["revokedAt"] == 5 and not api_keys.verify(presented, ended)
    assert api_keys.revoked(ended, now_ms=9)["revokedAt"] == 5


@pytest.mark.parametrize("text", ["", "ofk_", "Bearer x", "ofk_0123456789ab_short", "xyz_0123456789ab_" + "a" * 43,
                                  "ofk_0123456789AB_" + "a" * 43])
def test_anything_not_shaped_like_a_key_is_not_parsed(text: str) -> None:
    assert api_keys.parse(text) is None


def test_a_key_acts_as_its_own_caller_with_its_scopes() -> None:
    issued = api_keys.issue("ops robot", frozenset({Scope.SERVICE, Scope.OPERATOR}), 0, 0, 1)
    caller = api_keys.caller_of(issued.record)
    assert caller is not None
    assert caller.key_id == issued.record["keyId"] and caller.subject == f"key:{caller.key_id}"
    assert caller.scopes == {Scope.SERVICE, Scope.OPERATOR} and not caller.customer_only


@pytest.mark.parametrize(("name", "scopes", "per_hour"), [
    (" ", SERVICE, 0), ("a", frozenset(), 0), ("a", frozenset({Scope.CUSTOMER}), 0), ("a", SERVICE, -1)])
def test_a_key_without_a_name_with_a_customer_scope_or_a_negative_limit_is_refused(
        name: str, scopes: frozenset[Scope], per_hour: int) -> None:
    with pytest.raises(ValueError):
        api_keys.issue(name, scopes, per_hour, 0, 1)
