"""The local stack's token signing key and the development tokens it signs.

Owns: an ES256 (P-256) key pair in the run directory's ``auth/`` folder
(``signing-key.pem``, mode 0600, and ``signing-key.pub.pem``, which the
gateway verifies with), created once by ``orderflow dev`` or ``orderflow
token`` and kept across runs, and ``mint``: a JWT with the settings' issuer
and audience, a subject, scopes, and an expiry; and ``ensure_secret``, a
random secret in a 0600 file there (the payment simulator's API key). For
development and tests only; a deployment's tokens come from its identity
provider and its secrets from its secret store.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from joserfc import jwt
from joserfc.jwk import ECKey

from orderflow.settings import Settings

__all__ = ["ALGORITHM", "PUBLIC_NAME", "DevKey", "ensure_dev_key", "ensure_secret", "load_dev_key", "mint"]

ALGORITHM = "ES256"
PRIVATE_NAME = "signing-key.pem"
PUBLIC_NAME = "signing-key.pub.pem"
DEFAULT_TTL_S = 3600


@dataclass(frozen=True)
class DevKey:
    private: ECKey
    public_file: Path


def ensure_dev_key(directory: Path) -> DevKey:
    """The key pair in ``directory``, created (private file 0600) if absent."""
    private_file, public_file = directory / PRIVATE_NAME, directory / PUBLIC_NAME
    if not private_file.exists():
        directory.mkdir(parents=True, exist_ok=True)
        key = ECKey.generate_key("P-256", auto_kid=True)
        fd = os.open(private_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key.as_pem(private=True))
    pem = private_file.read_bytes()
    key = ECKey.import_key(pem, {"kid": ECKey.import_key(pem).thumbprint()})
    if not public_file.exists():
        public_file.write_bytes(key.as_pem(private=False))
    return DevKey(key, public_file)


def ensure_secret(path: Path) -> Path:
    """A file holding a random secret (256 bits, URL-safe), created mode 0600 if absent."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32))
    return path


def load_dev_key(directory: Path) -> DevKey:
    """The existing key pair in ``directory``; FileNotFoundError if there is none."""
    private_file = directory / PRIVATE_NAME
    if not private_file.exists():
        raise FileNotFoundError(f"no signing key at {private_file}: `orderflow dev` (or `orderflow token`) creates it")
    return ensure_dev_key(directory)


def mint(key: DevKey | ECKey, settings: Settings, subject: str, scopes: list[str] | tuple[str, ...],
         ttl_s: float = DEFAULT_TTL_S, *, now: float | None = None, claims: dict[str, object] | None = None
         ) -> str:
    """A signed token for ``subject`` with ``scopes`` (``customer``, ``service``, ``operator``)."""
    private = key.private if isinstance(key, DevKey) else key
    issued = int(time.time() if now is None else now)
    body: dict[str, object] = {"iss": settings.auth_issuer, "aud": settings.auth_audience, "sub": subject,
                               "scope": " ".join(scopes), "iat": issued, "nbf": issued,
                               "exp": issued + int(ttl_s), "jti": uuid.uuid4().hex}
    body.update(claims or {})
    header = {"alg": ALGORITHM, **({"kid": private.kid} if private.kid else {})}
    return jwt.encode(header, body, private, algorithms=[ALGORITHM])
