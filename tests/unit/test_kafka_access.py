"""Who connects to Kafka as whom, and may do what: the catalog's readers are
the agents' real sources, the ACLs follow from the catalog, and credentials
reach every kind of client without ever being printed."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest
from pydantic import ValidationError

from orderflow.agents.app import create_app
from orderflow.kafka_acls import GATEWAY, OPERATOR, PRINCIPALS, PRODUCER, WORKER, Grant, grants, topics_of
from orderflow.schemas import catalog
from orderflow.settings import Settings

APP = "orderflow"
PASSWORD = secrets.token_urlsafe(12)


def writes(principal: str) -> set[str]:
    return {g.name for g in grants(APP) if (g.principal, g.resource, g.operation) == (principal, "topic", "WRITE")}


def reads(principal: str) -> set[str]:
    return {g.name for g in grants(APP) if (g.principal, g.resource, g.operation) == (principal, "topic", "READ")}


def test_the_catalog_names_as_readers_exactly_the_agents_that_consume_a_topic() -> None:
    # with a carrier: the delivery service's every source (without one it reads no carrier progress)
    app = create_app(Settings(_env_file=None, bootstrap_servers="127.0.0.1:9", carrier_url="http://127.0.0.1:9")).app
    consumed = {name: set(agent.channel.topics) for name, agent in app.agents.items()}
    declared = {agent: {spec.name for spec in catalog.TOPICS if agent in spec.readers} for agent in consumed}
    assert consumed == declared
    assert consumed["manage_customers"] >= {catalog.ORDERS_BY_CUSTOMER.name}  # read by two agents


def test_the_gateway_writes_its_topics_and_reads_only_the_api_keys() -> None:
    assert writes(GATEWAY) == {s.name for s in catalog.TOPICS if s.writer == catalog.GATEWAY}
    assert reads(GATEWAY) == {catalog.API_KEYS.name}
    assert catalog.STOCK_REQUESTS.name not in writes(GATEWAY)


def test_the_worker_writes_its_agents_topics_and_changelogs_and_reads_what_they_consume() -> None:
    changelogs = {catalog.changelog_topic(APP, t.name) for t in catalog.TABLES if t.stored_in is None}
    assert changelogs <= writes(WORKER) and changelogs <= reads(WORKER)
    assert catalog.ORDER_COMMANDS.name not in writes(WORKER)
    assert catalog.API_KEYS.name not in reads(WORKER) | writes(WORKER)
    agent_sources = {s.name for s in catalog.TOPICS if set(s.readers) & catalog.AGENTS}
    assert agent_sources <= reads(WORKER)
    assert Grant(WORKER, "group", APP, "READ", prefixed=True) in grants(APP)


def test_an_external_producer_writes_only_the_ingress_topics_and_reads_nothing() -> None:
    assert writes(PRODUCER) == {s.name for s in catalog.TOPICS if s.external}
    assert reads(PRODUCER) == set()


def test_the_operator_reads_everything_and_writes_only_its_own_and_replay_targets() -> None:
    assert reads(OPERATOR) == {s.name for s in catalog.all_topics(APP) + catalog.BENCH_TOPICS}
    assert catalog.API_KEYS.name in writes(OPERATOR)
    assert catalog.ORDER_COMMANDS.name in writes(OPERATOR)  # a dead letter of the saga goes back there
    assert catalog.ORDER_EVENTS.name not in writes(OPERATOR)


def test_every_principal_may_ask_for_an_idempotent_producer_id() -> None:
    assert {g.principal for g in grants(APP) if g.operation == "IDEMPOTENT_WRITE"} == set(PRINCIPALS)


def test_a_worker_ensures_only_the_topics_it_uses() -> None:
    names = {s.name for s in topics_of(WORKER, APP)}
    assert catalog.API_KEYS.name not in names and catalog.ORDER_COMMANDS.name in names
    assert f"{APP}-__assignor-__leader" in names


def test_sasl_credentials_come_from_the_settings_or_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "worker.password"
    secret.write_text("from-a-file\n")
    settings = Settings(_env_file=None, bootstrap_servers="b:9093", kafka_security_protocol="SASL_SSL",
                        kafka_username="worker", kafka_password_file=secret, kafka_ca_file=tmp_path / "ca.pem")
    config = settings.kafka.config(**{"group.id": "g"})
    assert config == {"bootstrap.servers": "b:9093", "security.protocol": "SASL_SSL",
                      "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "worker",
                      "sasl.password": "from-a-file", "ssl.ca.location": str(tmp_path / "ca.pem"), "group.id": "g"}
    with pytest.raises(ValidationError, match="needs ORDERFLOW_KAFKA_USERNAME"):
        Settings(_env_file=None, kafka_security_protocol="SASL_SSL")


def test_a_password_is_never_printed() -> None:
    password = secrets.token_urlsafe(12)
    settings = Settings(_env_file=None, kafka_security_protocol="SASL_SSL", kafka_username="gateway",
                        kafka_password=password)
    assert settings.kafka.config()["sasl.password"] == password
    assert password not in repr(settings)
    assert password not in settings.model_dump_json()
    assert password not in repr(settings.kafka) and password not in str(settings.kafka)


async def test_the_worker_s_consumer_and_producer_log_in_with_the_settings() -> None:
    settings = Settings(_env_file=None, bootstrap_servers="127.0.0.1:9", kafka_security_protocol="SASL_SSL",
                        kafka_username="worker", kafka_password=PASSWORD)
    app = create_app(settings).app
    app.loop = asyncio.get_running_loop()
    consumer = app.consumer._thread._create_worker_consumer(app.transport)
    producer = app.producer._new_producer()
    try:
        for client in (consumer._client, producer.client):
            assert (client._security_protocol, client._sasl_mechanism, client._sasl_plain_username,
                    client._sasl_plain_password) == ("SASL_SSL", "SCRAM-SHA-512", "worker", PASSWORD)
            assert client._ssl_context is not None
    finally:
        await consumer.stop()
        await producer.stop()
