"""A poison message is not a bug, on the real broker.

A message no code could handle is dead-lettered and the worker goes on, ready,
however many arrive. A handler that raises on every message (a bug, planted by
``support.broken_worker`` in an otherwise real worker process) stops its
worker after ``handler_failure_limit`` messages: /readyz answers 503 saying
why, the process exits with ``EXIT_HANDLER_FAILURES``, those messages are on
the dead-letter topic with their reason and the group's commit is past them,
and once a fixed worker runs, replaying them handles them.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from confluent_kafka import ConsumerGroupTopicPartitions, Producer
from confluent_kafka.admin import AdminClient
from support.broken_worker import BUG
from support.http import get
from support.progress import produce_one
from support.waiting import eventually, eventually_value

from orderflow.agents.runtime.failures import EXIT_HANDLER_FAILURES
from orderflow.broker import LocalKafka, ensure_jars
from orderflow.cli import main
from orderflow.deadletters import DeadLetter, read
from orderflow.gateway.producer import producer_config
from orderflow.ports import free_port
from orderflow.processes import Child, orderflow_command, wait_http_ok
from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec
from orderflow.settings import Settings
from orderflow.stack import DevStack
from orderflow.topics import ensure_topics

pytestmark = pytest.mark.integration

TESTS_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = TESTS_DIR.parent
TOPIC = catalog.ORDER_COMMANDS.name
READY_S = 90.0


def place_order(order_id: str) -> bytes:
    return Codec().encode(catalog.ORDER_COMMANDS.default_schema, {
        "orderId": order_id, "customerId": "cust_poison", "paymentMethodId": "pm_1",
        "items": [{"productId": "prod_poison", "quantity": 1}]})


def key_of(letter: DeadLetter) -> str:
    return (letter.key or b"").decode()


def dead_letters_of(servers: str, keys: set[str], count: int) -> list[DeadLetter]:
    def probe() -> list[DeadLetter]:
        return [d for d in read(servers, source_topic=TOPIC)[0] if key_of(d) in keys]

    return eventually_value(probe, until=lambda found: len(found) >= count, timeout=60,
                            what=f"{count} dead letters of {sorted(keys)}")


# A poison message: dead-lettered, and the worker goes on.

def test_poison_messages_are_dead_lettered_and_the_workers_stay_up_and_handle_the_next_order(
        stack: DevStack, kafka_producer: Producer) -> None:
    servers = stack.settings.kafka_servers
    order_id = f"ord_poison_{uuid.uuid4().hex[:12]}"
    pids = [stack.worker(i).pid for i in range(stack.workers)]
    restarts = len(stack.restarts)
    impossible = json.dumps({"orderId": order_id, "customerId": "cust_poison", "paymentMethodId": "pm_1",
                             "items": [{"productId": "prod_poison", "quantity": 0}]}).encode()
    # More than the failure budget allows, all on the order's own partition
    # (same key), all before the order itself: none of them may count as a bug.
    poison = [b"not avro at all", b"\x00\x00\x00\x7f\xffbroken"] * stack.settings.handler_failure_limit
    for value in poison:
        produce_one(kafka_producer, TOPIC, order_id, value)
    produce_one(kafka_producer, TOPIC, order_id, impossible, [("content-type", b"application/json")])
    produce_one(kafka_producer, TOPIC, order_id, place_order(order_id))

    letters = dead_letters_of(servers, {order_id}, len(poison) + 1)
    assert len(letters) == len(poison) + 1
    assert sum(d.reason.startswith("undecodable:") for d in letters) == len(poison) + 1
    assert any("impossible PlaceOrder" in d.reason and "quantity" in d.reason for d in letters)
    eventually(lambda: get(f"{stack.gateway_url}/api/v1/orders/{order_id}").status == 200, timeout=30,
               what="the order after the poison stored")
    for index in range(stack.workers):
        ready = get(f"{stack.worker_url(index)}/readyz")
        assert ready.status == 200, ready.body
    assert [stack.worker(i).pid for i in range(stack.workers)] == pids
    assert len(stack.restarts) == restarts


# A bug: the worker stops after the budget, and the dead letters replay once fixed.

@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A broker of this module's own: a worker of a fresh group reads every
    topic from its start, and on the shared broker it would handle (and
    produce for) other tests' messages."""
    kafka = LocalKafka(tmp_path_factory.mktemp("kafka-bugs"), nodes=1, port=0,
                       lib_dir=ensure_jars(REPO_ROOT / "run"))
    kafka.start(fresh=True)
    try:
        yield kafka
    finally:
        kafka.stop()


def worker_settings(kafka: LocalKafka, run_dir: Path) -> Settings:
    return Settings(
        _env_file=None, bootstrap_servers=kafka.bootstrap_servers, app_id=f"orderflow-bugs-{uuid.uuid4().hex[:6]}",
        run_dir=run_dir, data_dir=run_dir / "worker", worker_port=free_port(), partitions=2,
        # the restarted worker takes its place in the group at once (static membership)
        worker_instance_id="worker-0", handler_failure_limit=3, handler_failure_window_s=60.0,
        handler_failure_exit_delay_s=3.0)


def start_worker(settings: Settings, argv: list[str], log_name: str) -> Child:
    env = dict(os.environ)
    env.update({f"ORDERFLOW_{name.upper()}": str(value) for name, value in settings.model_dump().items()
                if value is not None})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS_DIR), env.get("PYTHONPATH")]))
    child = Child(log_name, argv, env, settings.run_dir / f"{log_name}.log")
    wait_http_ok(f"http://{settings.worker_host}:{settings.worker_port}/readyz", child, READY_S)
    return child


def committed(settings: Settings) -> dict[int, int]:
    admin = AdminClient({"bootstrap.servers": settings.kafka_servers})
    request = ConsumerGroupTopicPartitions(settings.app_id)
    answer = admin.list_consumer_group_offsets([request])[settings.app_id].result()
    return {tp.partition: tp.offset for tp in answer.topic_partitions if tp.topic == TOPIC}


def test_a_handler_bug_stops_the_worker_after_the_limit_and_its_dead_letters_replay_once_fixed(
        own_broker: LocalKafka, tmp_path: Path) -> None:
    settings = worker_settings(own_broker, tmp_path)
    ensure_topics(settings)
    worker_url = f"http://{settings.worker_host}:{settings.worker_port}"
    broken = start_worker(settings, [sys.executable, "-P", "-m", "support.broken_worker"], "broken-worker")
    limit = settings.handler_failure_limit
    order_ids = [f"ord_bug_{i}_{uuid.uuid4().hex[:8]}" for i in range(limit)]
    try:
        producer = Producer(producer_config(settings.kafka_servers))
        sources = {order_id: produce_one(producer, TOPIC, order_id, place_order(order_id)) for order_id in order_ids}
        del producer  # every record is delivered (produce_one waits): no client left to outlive the broker

        stopping = eventually_value(lambda: get(f"{worker_url}/readyz"), until=lambda reply: reply.status == 503,
                                    timeout=60, what="the broken worker not ready")
        status = stopping.json()["status"]
        assert status.startswith(f"stopping: {limit} handler failures within 60s"), status
        assert BUG in status
        assert broken.process.wait(60) == EXIT_HANDLER_FAILURES, broken.tail()
    finally:
        broken.stop()

    letters = dead_letters_of(settings.kafka_servers, set(order_ids), limit)
    assert sorted(key_of(d) for d in letters) == sorted(order_ids)
    for letter in letters:
        partition, offset = sources[key_of(letter)]
        assert letter.reason == f"handler failed: RuntimeError: {BUG}"
        assert letter.source == f"{TOPIC}[{partition}]@{offset}"
        assert letter.value == place_order(key_of(letter))
    # committed past them before the exit: a restart goes on after them instead of failing on them again
    commits = committed(settings)
    assert all(commits.get(partition, -1) > offset for partition, offset in sources.values()), commits

    fixed = start_worker(settings, orderflow_command("worker"), "fixed-worker")
    try:
        assert all(get(f"{worker_url}/orders/{order_id}").status == 404 for order_id in order_ids)
        replayed = CliRunner().invoke(main, ["dlq", "replay", *(d.position for d in letters)],
                                      env={"ORDERFLOW_BOOTSTRAP_SERVERS": settings.kafka_servers})
        assert replayed.exit_code == 0, replayed.output
        for order_id in order_ids:
            eventually(lambda o=order_id: get(f"{worker_url}/orders/{o}").status == 200, timeout=30,
                       what=f"replayed {order_id} handled by the fixed worker")
        assert get(f"{worker_url}/readyz").status == 200
        assert len(dead_letters_of(settings.kafka_servers, set(order_ids), limit)) == limit  # none failed again
    finally:
        assert fixed.stop() == 0, fixed.tail()
