"""Verifying the gateway's bearer tokens (JWT, with joserfc).

Owns: the keys a token may be signed with (a PEM public key file, a JWKS
document, a shared secret only if one is configured), the algorithm
allow-list (never ``none``; HS256 only with a shared secret), and the
checks of a token's claims: issuer, audience, expiry (required), not-before,
a subject. Consumes the settings and, for a JWKS URL, the document the
gateway fetched (``gateway/auth.py`` fetches it; nothing here does I/O but
reading the key file at start).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from joserfc import errors, jwt
from joserfc.jwk import ECKey, GuestProtocol, Key, KeySet, OctKey, OKPKey, RSAKey

from orderflow.settings import Settings

__all__ = ["AuthConfigError", "InvalidToken", "UnknownKey", "Verifier", "verifier_for"]

# The key type each family of algorithms needs (a key of another type is never tried).
KEY_TYPES: Mapping[str, type[Key]] = {"ES": ECKey, "RS": RSAKey, "PS": RSAKey, "HS": OctKey, "Ed": OKPKey}
SYMMETRIC = "HS256"
VERIFIED_CACHE = 4096  # tokens
MIN_SECRET_BYTES = 32


class AuthConfigError(ValueError):
    """The authentication settings cannot work (the gateway refuses to start)."""


class InvalidToken(Exception):
    """A token that does not verify; ``reason`` is a short code for the log and the body."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class UnknownKey(InvalidToken):
    """The token names a key id none of the keys has (a JWKS may have rotated)."""


def _key_type(algorithm: str) -> type[Key]:
    for prefix, key_type in KEY_TYPES.items():
        if algorithm.startswith(prefix):
            return key_type
    raise AuthConfigError(f"unsupported token algorithm {algorithm!r}")


class Verifier:
    def __init__(self, keys: list[Key], issuer: str, audience: str, algorithms: list[str], leeway_s: int = 30
                 ) -> None:
        self.keys = keys
        self.algorithms = algorithms
        self._leeway_s = leeway_s
        # Tokens already verified, by their exact text: a client sends the same token on every
        # request, and checking a signature costs about a millisecond of CPU. A hit is checked for
        # expiry again; the cache goes with the keys (a JWKS refresh builds a new Verifier).
        self._verified: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._registry = jwt.JWTClaimsRegistry(
            leeway=leeway_s, iss={"essential": True, "value": issuer}, aud={"essential": True, "value": audience},
            exp={"essential": True}, sub={"essential": True})

    def _pick(self, guest: GuestProtocol) -> Key:
        header = guest.headers()
        algorithm, kid = str(header.get("alg", "")), header.get("kid")
        if algorithm not in self.algorithms:
            raise InvalidToken("bad_algorithm", f"tokens signed with {algorithm!r} are not accepted")
        wanted = _key_type(algorithm)
        fitting = [k for k in self.keys if isinstance(k, wanted)]
        if kid is not None:
            named = [k for k in fitting if k.kid == kid]
            if named:
                return named[0]
            if any(k.kid is not None for k in fitting) or not fitting:
                raise UnknownKey("unknown_key", f"no key with id {kid!r}")
        if len(fitting) == 1:
            return fitting[0]
        raise UnknownKey("unknown_key", "the token names no key id the keys have")

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid token; InvalidToken otherwise."""
        known = self._verified.get(token)
        if known is not None:
            if time.time() < known["exp"] + self._leeway_s:
                return known
            del self._verified[token]
            raise InvalidToken("expired", "the token has expired")
        claims = self._verify(token)
        if isinstance(claims.get("exp"), int | float):
            self._verified[token] = claims
            if len(self._verified) > VERIFIED_CACHE:
                self._verified.popitem(last=False)
        return claims

    def _verify(self, token: str) -> dict[str, Any]:
        if token.count(".") != 2:
            raise InvalidToken("malformed", "the token is not a signed JWT")
        try:
            decoded = jwt.decode(token, self._pick, algorithms=self.algorithms)
        except InvalidToken:
            raise
        except errors.UnsupportedAlgorithmError as exc:
            raise InvalidToken("bad_algorithm", "the token's algorithm is not accepted") from exc
        except errors.BadSignatureError as exc:
            raise InvalidToken("bad_signature", "the token's signature does not verify") from exc
        except (errors.JoseError, ValueError, TypeError) as exc:
            raise InvalidToken("malformed", "the token cannot be read") from exc
        claims = dict(decoded.claims)
        try:
            self._registry.validate(claims)
        except errors.ExpiredTokenError as exc:
            raise InvalidToken("expired", "the token has expired") from exc
        except errors.JoseError as exc:
            raise InvalidToken("bad_claims", getattr(exc, "description", None) or str(exc)) from exc
        return claims


def keys_from_jwks(document: Mapping[str, Any]) -> list[Key]:
    """The verification keys of a JWKS document (private parts, if any, are not needed)."""
    try:
        return list(KeySet.import_key_set(dict(document)).keys)  # type: ignore[arg-type]
    except (errors.JoseError, ValueError, TypeError, KeyError) as exc:
        raise AuthConfigError(f"the JWKS cannot be read: {exc}") from exc


def static_keys(settings: Settings) -> list[Key]:
    """The keys named by the settings themselves: the public key file and the shared secret."""
    keys: list[Key] = []
    if settings.auth_public_key_file is not None:
        try:
            pem = settings.auth_public_key_file.read_bytes()
        except OSError as exc:
            raise AuthConfigError(f"ORDERFLOW_AUTH_PUBLIC_KEY_FILE cannot be read: {exc}") from exc
        for key_type in (ECKey, RSAKey, OKPKey):
            try:
                key: Key = key_type.import_key(pem)
            except (errors.JoseError, ValueError, TypeError):
                continue
            if key.is_private:
                raise AuthConfigError("ORDERFLOW_AUTH_PUBLIC_KEY_FILE holds a private key: give the gateway "
                                      "only the public key")
            keys.append(key_type.import_key(pem, {"kid": key.thumbprint()}))
            break
        else:
            raise AuthConfigError("ORDERFLOW_AUTH_PUBLIC_KEY_FILE is not a PEM public key (EC, RSA or Ed25519)")
    secret = settings.auth_shared_secret.get_secret_value()
    if secret:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise AuthConfigError(f"ORDERFLOW_AUTH_SHARED_SECRET must be at least {MIN_SECRET_BYTES} bytes")
        keys.append(OctKey.import_key(secret))
    return keys


def algorithms_for(settings: Settings) -> list[str]:
    algorithms = settings.auth_algorithm_list
    if any(a.lower() == "none" for a in algorithms):
        raise AuthConfigError("ORDERFLOW_AUTH_ALGORITHMS may not allow 'none'")
    for algorithm in algorithms:
        _key_type(algorithm)
    symmetric = [a for a in algorithms if a.startswith("HS")]
    if settings.auth_shared_secret.get_secret_value():
        return [*algorithms, SYMMETRIC] if SYMMETRIC not in algorithms else algorithms
    if symmetric:
        raise AuthConfigError(f"{', '.join(symmetric)} in ORDERFLOW_AUTH_ALGORITHMS needs ORDERFLOW_AUTH_SHARED_SECRET")
    if not algorithms:
        raise AuthConfigError("ORDERFLOW_AUTH_ALGORITHMS allows no algorithm")
    return algorithms


def verifier_for(settings: Settings, jwks: Mapping[str, Any] | None = None) -> Verifier:
    """The verifier the settings describe (with the fetched JWKS, if a URL is set); AuthConfigError
    with what to set when auth is on and no key is configured."""
    keys = static_keys(settings) + (keys_from_jwks(jwks) if jwks is not None else [])
    if not keys and not settings.auth_jwks_url:
        raise AuthConfigError(
            "authentication is on but no key is configured: set ORDERFLOW_AUTH_PUBLIC_KEY_FILE, "
            "ORDERFLOW_AUTH_JWKS_URL or ORDERFLOW_AUTH_SHARED_SECRET (`orderflow dev` sets up a local key), "
            "or ORDERFLOW_AUTH_ENABLED=false for a gateway behind another authenticating proxy")
    return Verifier(keys, settings.auth_issuer, settings.auth_audience, algorithms_for(settings),
                    settings.auth_leeway_s)
