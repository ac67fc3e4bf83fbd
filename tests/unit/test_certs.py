"""The local CA and its server certificates (orderflow.certs): a client that
trusts the CA completes a real TLS handshake with the server for the hosts
the certificate names; a client that trusts another CA, or asks for another
host, is refused. The handshake runs over memory buffers: no sockets."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pydantic import ValidationError

from orderflow.certs import CA_NAME, client_context, ensure_server_cert, server_context, serving_context
from orderflow.settings import Settings


def handshake(server: ssl.SSLContext, client: ssl.SSLContext, host: str) -> None:
    """Drive a TLS handshake between the two contexts through memory BIOs."""
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    s = server.wrap_bio(to_server, to_client, server_side=True)
    c = client.wrap_bio(to_client, to_server, server_hostname=host)
    done = {"s": False, "c": False}
    for _ in range(20):
        for name, side in (("c", c), ("s", s)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        if all(done.values()):
            return
    raise AssertionError("the handshake did not finish")


def test_a_client_trusting_the_local_ca_reaches_the_server_for_its_hosts(tmp_path: Path) -> None:
    served = ensure_server_cert(tmp_path, "gateway", ["127.0.0.1", "localhost"])
    server = server_context(served.cert_file, served.key_file)
    for host in ("127.0.0.1", "localhost"):
        handshake(server, client_context(tmp_path / CA_NAME), host)
    assert oct(served.key_file.stat().st_mode & 0o777) == "0o600"


def test_a_client_trusting_the_local_ca_still_trusts_the_system_s_roots(tmp_path: Path) -> None:
    ensure_server_cert(tmp_path, "gateway", ["127.0.0.1"])
    system = ssl.create_default_context().cert_store_stats()["x509_ca"]
    assert client_context(tmp_path / CA_NAME).cert_store_stats()["x509_ca"] == system + 1
    assert client_context(None).cert_store_stats()["x509_ca"] == system


def test_a_client_not_trusting_the_ca_or_asking_for_another_host_is_refused(tmp_path: Path) -> None:
    served = ensure_server_cert(tmp_path / "one", "gateway", ["127.0.0.1"])
    ensure_server_cert(tmp_path / "other", "gateway", ["127.0.0.1"])
    server = server_context(served.cert_file, served.key_file)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(server, client_context(tmp_path / "other" / CA_NAME), "127.0.0.1")
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(server, client_context(None), "127.0.0.1")  # the system's roots only
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(server, client_context(tmp_path / "one" / CA_NAME), "example.com")


def test_certificates_are_kept_across_runs_and_remade_when_the_hosts_change(tmp_path: Path) -> None:
    first = ensure_server_cert(tmp_path, "gateway", ["127.0.0.1"]).cert_file.read_bytes()
    assert ensure_server_cert(tmp_path, "gateway", ["127.0.0.1"]).cert_file.read_bytes() == first
    assert ensure_server_cert(tmp_path, "gateway", ["127.0.0.1", "gw.local"]).cert_file.read_bytes() != first


def test_a_server_serves_plain_http_without_files_and_the_settings_refuse_only_one(tmp_path: Path) -> None:
    served = ensure_server_cert(tmp_path, "gateway", ["127.0.0.1"])
    assert serving_context(None, None) is None
    assert isinstance(serving_context(served.cert_file, served.key_file), ssl.SSLContext)
    with pytest.raises(ValidationError, match="ORDERFLOW_WORKER_TLS_CERT_FILE and ORDERFLOW_WORKER_TLS_KEY_FILE"):
        Settings(worker_tls_key_file=served.key_file)
