"""Session fixtures shared by the integration and end-to-end tests: the running
stack (two Faust workers and the gateway as real processes on the session's
Kafka broker), and a producer that writes to it like any external client."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer

from orderflow.gateway.producer import producer_config
from orderflow.ports import free_port, free_port_run
from orderflow.settings import Settings
from orderflow.stack import DevStack
from support.http import authorize

# What the tests' HTTP helpers send by default: a machine client that may also call the admin routes.
TEST_SCOPES = ("service", "operator")
TOKEN_TTL_S = 24 * 3600


@pytest.fixture(scope="session")
def stack(bootstrap_servers: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    run_dir: Path = tmp_path_factory.mktemp("stack")
    settings = Settings(
        bootstrap_servers=bootstrap_servers,
        app_id=f"orderflow-e2e-{uuid.uuid4().hex[:8]}",
        run_dir=run_dir,
        worker_port=free_port_run(2),
        gateway_port=free_port(),
        payment_sim_port=free_port(),
        mail_sink_port=free_port_run(2),
        carrier_sim_port=free_port(),
        carrier_poll_interval_s=0.3,
        # parcels wait at the carrier until a test moves them (POST /_sim/shipments/{id}/advance)
        carrier_sim_picked_up_after_s=-1,
        carrier_sim_in_transit_after_s=-1,
        carrier_sim_delivered_after_s=-1,
        # short enough to test the timeout, long enough for an outage test to recover
        payment_timeout_s=10.0,
        payment_scan_interval_s=0.5,
        payment_http_timeout_s=1.0,
        payment_attempts=2,
        payment_backoff_initial_s=0.05,
        payment_backoff_max_s=0.2,
        payment_breaker_failures=3,
        payment_breaker_recovery_s=1.0,
        # small windows and a low amount limit so the velocity test is quick;
        # the other tests spend far less than the limit
        velocity_window_s=6.0,
        velocity_max_amount_cents=1_000_000,
    )
    dev = DevStack(settings, workers=2, echo=lambda _line: None)
    try:
        dev.start()
        authorize(dev.gateway_url, dev.token(*TEST_SCOPES, subject="tests", ttl_s=TOKEN_TTL_S), dev.ca_file)
        yield dev
    finally:
        dev.stop()


@pytest.fixture(scope="session")
def kafka_producer(bootstrap_servers: str) -> Iterator[Producer]:
    """A plain confluent-kafka producer, as an external client would use."""
    producer = Producer(producer_config(bootstrap_servers))
    yield producer
    producer.flush(10)
