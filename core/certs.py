"""The local stack's certificates: a private certificate authority and the
server certificates it signs, made with the ``cryptography`` package.

Owns the run directory's ``tls/`` folder: ``ca.pem`` (the certificate clients
trust: curl's ``--cacert``, the tests, the benchmark), ``ca-key.pem`` and, per
server, ``<name>.pem`` and ``<name>-key.pem`` (keys mode 0600). Made once
and kept across runs (a server certificate is remade when its hosts change
or it is within a week of expiring). ``server_context`` and
``client_context`` are the ``ssl`` contexts the processes use. For
development and tests; a deployment brings its own certificates.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CA_NAME", "ServerCert", "client_context", "ensure_ca", "ensure_server_cert", "server_context",
           "serving_context", "write_private"]

CA_NAME = "ca.pem"
TLS_DIR = "tls"  # in the run directory: the local CA and the certificates it signed
CA_KEY_NAME = "ca-key.pem"
CA_DAYS = 3650
SERVER_DAYS = 397  # what browsers accept for a server certificate
RENEW_BEFORE = dt.timedelta(days=7)


@dataclass(frozen=True)
class ServerCert:
    cert_file: Path
    key_file: Path


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def write_private(path: Path, data: str | bytes) -> None:
    """(Re)write a file only its owner may read: a key, a password, a config holding one."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data.encode() if isinstance(data, str) else data)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    write_private(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "orderflow (local)"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def ensure_ca(directory: Path) -> Path:
    """The local CA's certificate file, made (with its key) if absent."""
    cert_file, key_file = directory / CA_NAME, directory / CA_KEY_NAME
    if cert_file.exists() and key_file.exists():
        return cert_file
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("orderflow local CA")
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - dt.timedelta(minutes=5)).not_valid_after(_now() + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    _write_key(key_file, key)
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_file


def _san(hosts: list[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _current(cert_file: Path, hosts: list[str]) -> bool:
    """Whether an existing certificate names these hosts and is not about to expire."""
    if not cert_file.exists():
        return False
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return san == _san(hosts) and cert.not_valid_after_utc - _now() > RENEW_BEFORE


def ensure_server_cert(directory: Path, name: str, hosts: list[str], *, common_name: str | None = None,
                       client_auth: bool = False) -> ServerCert:
    """A certificate for ``hosts`` (names or IP addresses) signed by the local CA; named
    ``common_name`` (default: the first host) and, with ``client_auth``, also a client's
    (Kafka's nodes present theirs to each other)."""
    ca_file = ensure_ca(directory)
    served = ServerCert(directory / f"{name}.pem", directory / f"{name}-key.pem")
    if _current(served.cert_file, hosts) and served.key_file.exists():
        return served
    ca_cert = x509.load_pem_x509_certificate(ca_file.read_bytes())
    ca_key = serialization.load_pem_private_key((directory / CA_KEY_NAME).read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"{directory / CA_KEY_NAME} is not the EC key this module makes")
    key = ec.generate_private_key(ec.SECP256R1())
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] + ([ExtendedKeyUsageOID.CLIENT_AUTH] if client_auth else [])
    cert = (x509.CertificateBuilder().subject_name(_name(common_name or hosts[0])).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(_now() - dt.timedelta(minutes=5))
            .not_valid_after(_now() + dt.timedelta(days=SERVER_DAYS))
            .add_extension(_san(hosts), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write_key(served.key_file, key)
    served.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return served


def server_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """TLS 1.2 or newer, serving this certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context


def serving_context(cert_file: Path | None, key_file: Path | None) -> ssl.SSLContext | None:
    """A server's TLS from its settings (which allow both files or neither): None serves plain HTTP."""
    if cert_file is None or key_file is None:
        return None
    return server_context(cert_file, key_file)


def client_context(ca_file: Path | None) -> ssl.SSLContext:
    """Verifying contexts: the system's roots, plus ``ca_file`` when given (the local CA)."""
    # create_default_context(cafile=...) would load that file *instead of* the
    # system's roots, and a public endpoint (a payment provider) would fail.
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def local_ca(run_dir: Path) -> Path | None:
    """The local stack's CA in ``run_dir``, if `orderflow dev` made one there."""
    ca = run_dir / TLS_DIR / CA_NAME
    return ca if ca.exists() else None
