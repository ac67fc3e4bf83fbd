"""The gateway's token checks (gateway/tokens.py) against tokens minted as a
client or an attacker would: the local key's, expired, not yet valid, another
key's, `alg: none`, HS256 signed with the public key, wrong issuer or
audience; and the settings that cannot work refuse to start."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from orderflow.gateway.presenters import masked_payment_method
from orderflow.gateway.tokens import AuthConfigError, InvalidToken, verifier_for
from orderflow.settings import Settings
from orderflow.signing import ensure_dev_key, mint


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    return tmp_path / "auth"


@pytest.fixture
def settings(key_dir: Path) -> Settings:
    return Settings(auth_public_key_file=ensure_dev_key(key_dir).public_file)


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def reason(settings: Settings, token: str) -> str:
    with pytest.raises(InvalidToken) as caught:
        verifier_for(settings).verify(token)
    return caught.value.reason


def test_a_token_of_the_local_key_verifies(settings: Settings, key_dir: Path) -> None:
    claims = verifier_for(settings).verify(mint(ensure_dev_key(key_dir), settings, "cust_1", ["customer"]))
    assert (claims["sub"], claims["scope"], claims["iss"], claims["aud"]) == ("cust_1", "customer", "orderflow",
                                                                              "orderflow-api")


def test_the_private_key_file_is_the_owners_alone(key_dir: Path) -> None:
    ensure_dev_key(key_dir)
    assert (key_dir / "signing-key.pem").stat().st_mode & 0o777 == 0o600
    assert b"PRIVATE" not in (key_dir / "signing-key.pub.pem").read_bytes()


def test_expired_and_not_yet_valid_tokens_are_refused(settings: Settings, key_dir: Path) -> None:
    key = ensure_dev_key(key_dir)
    assert reason(settings, mint(key, settings, "s", ["service"], ttl_s=60, now=time.time() - 3600)) == "expired"
    assert reason(settings, mint(key, settings, "s", ["service"], now=time.time() + 3600)) == "bad_claims"


def test_a_token_without_expiry_is_refused(settings: Settings, key_dir: Path) -> None:
    key = ensure_dev_key(key_dir).private
    token = jwt.encode({"alg": "ES256", "kid": key.kid}, {"sub": "s", "scope": "service", "iss": "orderflow",
                                                          "aud": "orderflow-api"}, key)
    assert reason(settings, token) == "bad_claims"


def test_another_keys_token_is_refused(settings: Settings) -> None:
    other = ECKey.generate_key("P-256")
    assert reason(settings, mint(other, settings, "s", ["operator"])) == "bad_signature"


def test_alg_none_is_refused(settings: Settings) -> None:
    claims = {"sub": "s", "scope": "operator", "iss": "orderflow", "aud": "orderflow-api",
              "exp": int(time.time()) + 60}
    assert reason(settings, f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.") == "bad_algorithm"


def test_hs256_signed_with_the_public_key_is_refused(settings: Settings, key_dir: Path) -> None:
    public_pem = (key_dir / "signing-key.pub.pem").read_text()
    claims = {"sub": "s", "scope": "operator", "iss": "orderflow", "aud": "orderflow-api",
              "exp": int(time.time()) + 60}
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(claims)}"
    mac = hmac.new(public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert reason(settings, forged) == "bad_algorithm"


@pytest.mark.parametrize("field", ["auth_issuer", "auth_audience"])
def test_another_issuer_or_audience_is_refused(settings: Settings, key_dir: Path, field: str) -> None:
    minted_for = settings.model_copy(update={field: "someone-else"})
    assert reason(settings, mint(ensure_dev_key(key_dir), minted_for, "s", ["operator"])) == "bad_claims"


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "a.b.c.d.e"])
def test_garbage_is_refused(settings: Settings, token: str) -> None:
    assert reason(settings, token) in ("malformed", "bad_algorithm")


def test_a_shared_secret_is_accepted_only_when_configured() -> None:
    secret = "x" * 32
    token = jwt.encode({"alg": "HS256"}, {"sub": "s", "scope": "service", "iss": "orderflow",
                                          "aud": "orderflow-api", "exp": int(time.time()) + 60},
                       OctKey.import_key(secret), algorithms=["HS256"])
    assert verifier_for(Settings(auth_shared_secret=secret)).verify(token)["sub"] == "s"
    with pytest.raises(AuthConfigError, match="needs ORDERFLOW_AUTH_SHARED_SECRET"):
        verifier_for(Settings(auth_algorithms="HS256", auth_jwks_url="http://idp.example/jwks"))
    with pytest.raises(AuthConfigError, match="at least 32 bytes"):
        verifier_for(Settings(auth_shared_secret="s" * 31))


def test_jwks_keys_verify_by_key_id() -> None:
    key = RSAKey.generate_key(2048, auto_kid=True)
    settings = Settings(auth_jwks_url="http://idp.example/jwks")
    verifier = verifier_for(settings, {"keys": [key.as_dict(private=False)]})
    token = jwt.encode({"alg": "RS256", "kid": key.kid}, {"sub": "s", "scope": "service", "iss": "orderflow",
                                                          "aud": "orderflow-api", "exp": int(time.time()) + 60}, key)
    assert verifier.verify(token)["sub"] == "s"
    rotated = RSAKey.generate_key(2048, auto_kid=True)
    with pytest.raises(InvalidToken) as caught:
        verifier.verify(jwt.encode({"alg": "RS256", "kid": rotated.kid}, {"sub": "s"}, rotated))
    assert caught.value.reason == "unknown_key"


@pytest.mark.parametrize(("settings", "message"), [
    (Settings(), "no key is configured"),
    (Settings(auth_shared_secret="x" * 32, auth_algorithms="ES256,none"), "may not allow 'none'"),
    (Settings(auth_public_key_file=Path("/nonexistent/key.pem")), "cannot be read"),
])
def test_settings_that_cannot_work_refuse_to_start(settings: Settings, message: str) -> None:
    with pytest.raises(AuthConfigError, match=message):
        verifier_for(settings)


def test_a_private_key_given_as_the_public_key_is_refused(key_dir: Path) -> None:
    ensure_dev_key(key_dir)
    with pytest.raises(AuthConfigError, match="private key"):
        verifier_for(Settings(auth_public_key_file=key_dir / "signing-key.pem"))


@pytest.mark.parametrize(("value", "shown"), [
    ("pm_4242424242421234", "pm_****1234"), ("pm_123ghi", "pm_****3ghi"), ("pm_1", "pm_****"),
    ("tok9876543", "****6543"), (None, None),
])
def test_the_payment_method_is_masked(value: str | None, shown: str | None) -> None:
    assert masked_payment_method(value) == shown


def test_a_token_verified_before_is_refused_once_it_expires(settings: Settings, key_dir: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = verifier_for(settings)
    token = mint(ensure_dev_key(key_dir), settings, "s", ["service"], ttl_s=60)
    exp = verifier.verify(token)["exp"]
    assert verifier.verify(token)["sub"] == "s"  # the second time from the verified tokens
    monkeypatch.setattr("orderflow.gateway.tokens.time.time", lambda: exp + settings.auth_leeway_s + 1)
    with pytest.raises(InvalidToken) as caught:
        verifier.verify(token)
    assert caught.value.reason == "expired"


def test_orderflow_token_mints_from_the_local_key_it_creates(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from orderflow.cli import main

    env = {"ORDERFLOW_RUN_DIR": str(tmp_path)}
    customer = CliRunner().invoke(main, ["token", "--customer", "cust_1"], env=env, catch_exceptions=False)
    operator = CliRunner().invoke(main, ["token"], env=env, catch_exceptions=False)
    assert customer.exit_code == 0 and operator.exit_code == 0, customer.output + operator.output
    verifier = verifier_for(Settings(auth_public_key_file=tmp_path / "auth" / "signing-key.pub.pem"))
    assert {k: verifier.verify(customer.output.strip())[k] for k in ("sub", "scope")} == {"sub": "cust_1",
                                                                                          "scope": "customer"}
    assert verifier.verify(operator.output.strip())["scope"] == "operator"
    refused = CliRunner().invoke(main, ["token", "--scope", "customer"], env=env)
    assert refused.exit_code == 2 and "--customer" in refused.output
