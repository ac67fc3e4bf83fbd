"""API keys of partner and service clients: their format, how a presented
key is checked against the stored record, and what it allows. Pure: no
Kafka, no HTTP (the operator's ``orderflow api-key`` commands write the
records to ``auth.api-keys``; the gateway's ``api_keys`` store reads them).

A key is ``ofk_<keyId>_<secret>``: the key id is public (it names the key in
logs, metrics and the revoke command), the secret is 256 random bits shown
once, when issued. Only the secret's SHA-256 is stored: a secret that
random cannot be guessed from its hash, so a slow password hash would only
cost every request CPU (unlike a password, nobody chose it).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from orderflow.schemas.messages import ApiKey
from orderflow.tables.access import Caller, Scope

__all__ = ["PREFIX", "IssuedKey", "Presented", "caller_of", "issue", "parse", "revoked", "verify"]

PREFIX = "ofk"
_KEY = re.compile(rf"^{PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{43}})$")


@dataclass(frozen=True)
class Presented:
    """A key as a client sent it, split into its id and secret."""

    key_id: str
    secret: str


@dataclass(frozen=True)
class IssuedKey:
    """A new key: the record to store and the key to hand over (once)."""

    record: ApiKey
    key: str


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue(name: str, scopes: frozenset[Scope], per_hour: int, burst: int, now_ms: int) -> IssuedKey:
    """A new key for ``name``; ``per_hour``/``burst`` 0 mean the gateway's defaults."""
    if not name.strip():
        raise ValueError("an API key needs a name (who it is for)")
    if not scopes or Scope.CUSTOMER in scopes:
        raise ValueError("an API key is for a service or an operator, not a customer")
    if per_hour < 0 or burst < 0:
        raise ValueError("rate limits cannot be negative")
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    record: ApiKey = {"keyId": key_id, "name": name.strip(), "secretSha256": sha256_hex(secret),
                      "scopes": sorted(s.value for s in scopes), "perHour": per_hour, "burst": burst,
                      "createdAt": now_ms, "revokedAt": None}
    return IssuedKey(record, f"{PREFIX}_{key_id}_{secret}")


def parse(key: str) -> Presented | None:
    """The key's id and secret; None for anything not shaped like a key."""
    match = _KEY.match(key.strip())
    return Presented(match[1], match[2]) if match else None


def verify(presented: Presented, record: ApiKey | None) -> bool:
    """Whether the presented key is the stored one and not revoked."""
    if record is None or record["keyId"] != presented.key_id or record.get("revokedAt") is not None:
        return False
    return hmac.compare_digest(sha256_hex(presented.secret), record["secretSha256"])


def revoked(record: ApiKey, now_ms: int) -> ApiKey:
    """The record of a key revoked now (a key already revoked keeps its time)."""
    if record.get("revokedAt") is not None:
        return record
    return {**record, "revokedAt": now_ms}


def caller_of(record: ApiKey) -> Caller | None:
    """The caller a valid key acts as: ``key:<keyId>`` with the key's scopes."""
    known = {s.value for s in Scope}
    scopes = frozenset(Scope(s) for s in record["scopes"] if s in known) - {Scope.CUSTOMER}
    return Caller(f"key:{record['keyId']}", scopes, key_id=record["keyId"]) if scopes else None
