"""The broker probe behind a worker's /readyz, against the real broker and
against a port where no broker listens."""

from __future__ import annotations

import time

import pytest

from orderflow.ports import free_port
from orderflow.readiness import BrokerProbe, admin_ping

pytestmark = pytest.mark.integration


async def test_running_broker_is_reachable(bootstrap_servers: str) -> None:
    assert await BrokerProbe(admin_ping(bootstrap_servers)).check() == (True, "broker reachable")


async def test_no_broker_is_unreachable_within_the_ping_timeout() -> None:
    probe = BrokerProbe(admin_ping(f"127.0.0.1:{free_port()}", timeout_s=0.5))
    started = time.monotonic()
    reachable, why = await probe.check()
    assert not reachable and why.startswith("broker unreachable: ")
    assert time.monotonic() - started < 3
