"""A secured broker the project starts (SASL_SSL, SCRAM-SHA-512, KRaft's
StandardAuthorizer, ACLs from the catalog) refuses whoever it should: a
client without credentials or with a wrong password, a component writing a
topic it does not own or reading one it does not consume (the stack on it:
tests/e2e/test_observed_stack.py).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from orderflow.broker import LocalKafka, ensure_jars
from orderflow.dev_kafka import broker_security, client_as, settings_as
from orderflow.kafka_acls import ADMIN, GATEWAY, GATEWAY_GROUP_PREFIX, OPERATOR, PRODUCER, WORKER, apply_acls
from orderflow.kafka_client import KafkaClient
from orderflow.schemas import catalog
from orderflow.settings import Settings
from orderflow.topics import ensure_topics

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_ID = "orderflow-secured"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings of a fresh secured broker whose catalog topics and ACLs exist (no stack on it)."""
    settings = Settings(_env_file=None, run_dir=tmp_path_factory.mktemp("secured"), app_id=APP_ID)
    kafka = LocalKafka(settings.run_dir / "kafka", nodes=1, port=0, lib_dir=ensure_jars(REPO_ROOT / "run"),
                       security=broker_security(settings))
    kafka.start(fresh=True)
    try:
        settings = settings.model_copy(update={"bootstrap_servers": kafka.bootstrap_servers})
        ensure_topics(settings_as(settings, ADMIN))
        apply_acls(client_as(settings, ADMIN), APP_ID)
        yield settings
    finally:
        kafka.stop()


def produce_error(kafka: KafkaClient, topic: str, timeout_ms: int = 10_000) -> str | None:
    """Send one record as ``kafka``'s principal; the error's name, or None when the broker took it."""
    producer = Producer(kafka.config(**{"message.timeout.ms": timeout_ms, "enable.idempotence": False}))
    errors: list[KafkaError | None] = []
    producer.produce(topic, key=b"k", value=b"v", on_delivery=lambda err, _msg: errors.append(err))
    producer.flush(15)
    assert len(errors) == 1, f"no delivery report for {topic}"
    return None if errors[0] is None else errors[0].name()


# A consumer group each principal may use (librdkafka asks the group's coordinator even when assigned).
GROUPS = {WORKER: f"{APP_ID}-probe", GATEWAY: f"{GATEWAY_GROUP_PREFIX}probe", OPERATOR: "probe"}


def read_error(kafka: KafkaClient, topic: str) -> str | None:
    """Subscribe to ``topic`` from the start: the error's name, or None when the broker let it be read."""
    consumer = Consumer(kafka.config(**{"group.id": f"{GROUPS[kafka.username]}-{uuid.uuid4().hex[:6]}",
                                        "enable.auto.commit": False, "enable.partition.eof": True,
                                        "auto.offset.reset": "earliest"}))
    try:
        consumer.subscribe([topic])
        for _ in range(20):
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            error = msg.error()
            if error is None or error.code() == KafkaError._PARTITION_EOF:
                return None
            return error.name()
        return "NO_ANSWER"
    finally:
        consumer.close()


def test_a_client_without_credentials_or_with_a_wrong_password_is_refused(secured: Settings) -> None:
    plain = AdminClient({"bootstrap.servers": secured.kafka_servers, "socket.timeout.ms": 3000,
                         "logger": logging.getLogger("plain-client")})
    with pytest.raises(KafkaException):  # a plain client cannot even get the metadata
        plain.list_topics(timeout=5)
    wrong = client_as(secured, GATEWAY).as_user(GATEWAY, "not-the-password")
    assert produce_error(wrong, catalog.ORDER_COMMANDS.name, timeout_ms=4000) is not None
    # the right password for the same user works
    assert produce_error(client_as(secured, GATEWAY), catalog.ORDER_COMMANDS.name) is None


def test_the_gateway_writes_its_own_topics_only_and_reads_no_changelog(secured: Settings) -> None:
    gateway = client_as(secured, GATEWAY)
    assert produce_error(gateway, catalog.STOCK_REQUESTS.name) == "TOPIC_AUTHORIZATION_FAILED"
    assert produce_error(gateway, catalog.ORDER_EVENTS.name) == "TOPIC_AUTHORIZATION_FAILED"
    orders_changelog = catalog.changelog_topic(APP_ID, catalog.ORDERS_TABLE.name)
    assert read_error(gateway, orders_changelog) == "TOPIC_AUTHORIZATION_FAILED"
    assert read_error(gateway, catalog.ORDER_EVENTS.name) == "TOPIC_AUTHORIZATION_FAILED"
    assert read_error(gateway, catalog.API_KEYS.name) is None  # what it does read


def test_a_worker_cannot_write_the_gateways_commands(secured: Settings) -> None:
    worker = client_as(secured, WORKER)
    assert produce_error(worker, catalog.ORDER_COMMANDS.name) == "TOPIC_AUTHORIZATION_FAILED"
    assert produce_error(worker, catalog.API_KEYS.name) == "TOPIC_AUTHORIZATION_FAILED"
    assert produce_error(worker, catalog.STOCK_REQUESTS.name) is None  # the saga's own command
    assert read_error(worker, catalog.ORDER_COMMANDS.name) is None  # which it consumes


def test_an_external_producer_writes_only_the_ingress_topics(secured: Settings) -> None:
    producer = client_as(secured, PRODUCER)
    refused = {spec.name: produce_error(producer, spec.name) for spec in catalog.all_topics(APP_ID)}
    ingress = {spec.name for spec in catalog.all_topics(APP_ID) if spec.external}
    assert ingress == {"orders.commands", "inventory.adjustments", "prices", "payments.events", "shipments.events"}
    assert {name for name, error in refused.items() if error is None} == ingress
    assert {error for name, error in refused.items() if name not in ingress} == {"TOPIC_AUTHORIZATION_FAILED"}


def test_the_operator_reads_every_topic_but_writes_no_status(secured: Settings) -> None:
    operator = client_as(secured, OPERATOR)
    assert all(read_error(operator, spec.name) is None for spec in catalog.all_topics(APP_ID))
    assert produce_error(operator, catalog.ORDER_EVENTS.name) == "TOPIC_AUTHORIZATION_FAILED"
    assert produce_error(operator, catalog.API_KEYS.name) is None
