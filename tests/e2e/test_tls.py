"""TLS on the local stack: the gateway, every worker's table reads and the
payment simulator serve HTTPS with certificates of the stack's local CA. A
client that trusts the CA gets answers; one that trusts only the system's
roots is refused the handshake; plain HTTP on those ports gets no answer.
(The reads the gateway forwards to workers, and the workers to each other
and to the payment provider, run over the same TLS in every other test.)"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request

import pytest
from support.http import get

from orderflow.certs import client_context
from orderflow.stack import DevStack

pytestmark = pytest.mark.e2e


def servers(stack: DevStack) -> list[str]:
    return [stack.gateway_url, stack.payment_simulator_url, *(stack.worker_url(i) for i in range(stack.workers))]


def test_every_server_of_the_stack_serves_https_by_the_local_ca(stack: DevStack) -> None:
    assert stack.ca_file is not None
    for base in servers(stack):
        assert base.startswith("https://"), base
        assert get(f"{base}/healthz").status == 200, base
        with urllib.request.urlopen(f"{base}/healthz", timeout=10,  # noqa: S310 - the stack's loopback URL
                                    context=client_context(stack.ca_file)) as resp:
            assert resp.status == 200, base


def test_a_client_not_trusting_the_local_ca_is_refused(stack: DevStack) -> None:
    for base in servers(stack):
        with pytest.raises(urllib.error.URLError) as refused:
            urllib.request.urlopen(f"{base}/healthz", timeout=10,  # noqa: S310 - the stack's loopback URL
                                   context=ssl.create_default_context())
        assert isinstance(refused.value.reason, ssl.SSLCertVerificationError), base


def test_plain_http_on_an_https_port_gets_no_answer(stack: DevStack) -> None:
    for base in servers(stack):
        plain = base.replace("https://", "http://", 1)
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(f"{plain}/healthz", timeout=10)  # noqa: S310 - the stack's loopback URL
