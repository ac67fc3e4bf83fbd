"""Worker faults during a steady stream of orders, each proven by the
invariant checker: kill -9 (at least 20 times in one run, with two workers
taking each other's partitions over), SIGTERM, and the loss of a worker's
RocksDB directory. Each run has its own fresh broker and stack.

ORDERFLOW_SOAK=1 makes every run ten times longer, for the benchmark machine.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer as KafkaConsumer
from confluent_kafka import ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from support.http import get, post_json
from support.invariants import SETTLED, check
from support.ports import free_port, free_port_run
from support.waiting import eventually

from orderflow.broker import LocalKafka, ensure_jars
from orderflow.gateway.producer import producer_config
from orderflow.partitioning import partition_for_key
from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec
from orderflow.settings import Settings
from orderflow.stack import DevStack

pytestmark = pytest.mark.chaos

REPO_ROOT = Path(__file__).resolve().parents[2]
SOAK = 10 if os.environ.get("ORDERFLOW_SOAK") else 1
PRODUCTS, UNITS, CUSTOMERS = 20, 150, 10


@pytest.fixture
def faulty_stack(tmp_path: Path) -> Iterator[DevStack]:
    kafka = LocalKafka(tmp_path / "kafka", nodes=1, port=0, lib_dir=ensure_jars(REPO_ROOT / "run"))
    kafka.start(fresh=True)
    settings = Settings(
        bootstrap_servers=kafka.bootstrap_servers, app_id=f"orderflow-chaos-{uuid.uuid4().hex[:6]}",
        run_dir=tmp_path / "stack", worker_port=free_port_run(2), gateway_port=free_port(),
        payment_sim_port=free_port(), payment_timeout_s=90.0, payment_breaker_recovery_s=1.0,
    )
    stack = DevStack(settings, workers=2, echo=lambda _line: None)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        kafka.stop()


def seed(stack: DevStack) -> tuple[list[str], list[str], dict[str, int]]:
    products = [f"prod_{i}" for i in range(PRODUCTS)]
    for product in products:
        assert post_json(f"{stack.gateway_url}/api/v1/inventory/{product}/adjustments",
                         {"type": "restock", "quantity": UNITS * SOAK}).status == 202
    customers = []
    for i in range(CUSTOMERS):
        reply = post_json(f"{stack.gateway_url}/api/v1/customers", {"email": f"chaos{i}@example.com"})
        assert reply.status == 201, reply.body
        customers.append(reply.json()["customerId"])
    for product in products:
        eventually(lambda p=product: get(f"{stack.gateway_url}/api/v1/inventory/{p}").status == 200,
                   timeout=60, what=f"{product} seeded")
    return products, customers, {p: UNITS * SOAK for p in products}


class OrderStream:
    """Open-loop PlaceOrder commands straight to Kafka at a fixed rate, in a thread."""

    def __init__(self, stack: DevStack, products: list[str], customers: list[str], count: int, rate: float):
        self.stack, self.products, self.customers = stack, products, customers
        self.count, self.rate = count, rate
        self.order_ids: list[str] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.codec = Codec()
        self.random = random.Random(7)

    def _command(self, order_id: str) -> dict:
        pick = self.random
        lines = pick.sample(self.products, pick.randint(1, 3))
        method = "pm_insufficient_funds" if pick.random() < 0.05 else "pm_visa"
        return {"orderId": order_id, "customerId": pick.choice(self.customers), "paymentMethodId": method,
                "items": [{"productId": p, "quantity": pick.randint(1, 3)} for p in lines]}

    def _run(self) -> None:
        producer = Producer(producer_config(self.stack.settings.kafka_servers))
        start = time.monotonic()
        for i in range(self.count):
            delay = start + i / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # the schedule of an open-loop load, not a wait for a condition
            order_id = f"ord_chaos_{i}_{uuid.uuid4().hex[:6]}"
            producer.produce(catalog.ORDER_COMMANDS.name, key=order_id.encode(),
                             value=self.codec.encode("orderflow.v1.PlaceOrder", self._command(order_id)))
            producer.poll(0)
            self.order_ids.append(order_id)
        assert producer.flush(30) == 0

    def start(self) -> None:
        self.thread.start()

    def running(self) -> bool:
        return self.thread.is_alive()


def settle(stack: DevStack, order_ids: list[str], timeout: float) -> None:
    """Wait until every order has settled and no stock is held any more."""
    unsettled = set(order_ids)

    def all_settled() -> bool:
        for order_id in list(unsettled):
            reply = get(f"{stack.gateway_url}/api/v1/orders/{order_id}")
            if reply.status == 200 and reply.json()["status"] in SETTLED:
                unsettled.discard(order_id)
        return not unsettled

    try:
        eventually(all_settled, timeout=timeout, what="orders settled")
    except AssertionError:
        left = Counter(get(f"{stack.gateway_url}/api/v1/orders/{o}").json().get("status", "missing")
                       for o in list(unsettled)[:200])
        partitions = Counter(partition_for_key(o.encode(), stack.settings.partitions) for o in unsettled)
        held_locally = Counter(
            f"worker-{i}" for o in list(unsettled)[:30] for i in range(stack.workers)
            if get(f"{stack.worker_url(i)}/orders/{o}", headers={"X-Orderflow-Routed": "1"}).status == 200)
        raise AssertionError(f"{len(unsettled)} orders never settled; statuses of some: {dict(left)}; "
                             f"their partitions: {dict(partitions)}; of 30, found locally on {dict(held_locally)}; "
                             f"group lag: {group_lag(stack)}") from None


def group_lag(stack: DevStack) -> dict[str, dict[int, int]]:
    """Per ingress partition: end offset minus the consumer group's committed offset."""
    admin = AdminClient({"bootstrap.servers": stack.settings.kafka_servers})
    request = ConsumerGroupTopicPartitions(stack.settings.app_id)
    committed = admin.list_consumer_group_offsets([request])[stack.settings.app_id].result()
    consumer = KafkaConsumer({"bootstrap.servers": stack.settings.kafka_servers, "group.id": "lag-probe"})
    lag: dict[str, dict[int, int]] = {}
    for tp in committed.topic_partitions:
        if tp.topic in (catalog.ORDER_COMMANDS.name, catalog.STOCK_RESULTS.name, catalog.STOCK_REQUESTS.name):
            high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10)[1]
            if high - tp.offset:
                lag.setdefault(tp.topic, {})[tp.partition] = high - tp.offset
    consumer.close()
    return lag


def run_and_check(stack: DevStack, fault: callable, count: int, rate: float) -> None:
    products, customers, initial = seed(stack)
    stream = OrderStream(stack, products, customers, count * SOAK, rate)
    stream.start()
    faults = fault(stream)
    stream.thread.join()
    settle(stack, stream.order_ids, timeout=240)
    for product in products:  # sold lines reach the stock rows last
        eventually(lambda p=product: get(f"{stack.gateway_url}/api/v1/inventory/{p}").json()["reserved"] == 0,
                   timeout=60, what=f"{product} holds no reservation")
    report = check(stack, stream.order_ids, initial)
    print(f"\n{fault.__name__}: {faults} faults; {report.figures()}")
    assert report.ok(), report.problems
    assert report.checked == len(stream.order_ids) > 0


def test_kill_9_of_workers_during_a_stream_loses_and_doubles_nothing(faulty_stack: DevStack) -> None:
    def kill_nine(stream: OrderStream) -> int:
        kills = 0
        while kills < 20 * SOAK:
            time.sleep(random.uniform(2.0, 5.0))  # a random moment, not a wait for a condition
            index = kills % 2
            faulty_stack.kill_worker(index)
            faulty_stack.restart_worker(index)
            kills += 1
        return kills

    run_and_check(faulty_stack, kill_nine, count=1500, rate=30)


def test_sigterm_stops_a_worker_cleanly_in_bounded_time(faulty_stack: DevStack) -> None:
    def terminate(stream: OrderStream) -> int:
        eventually(lambda: len(stream.order_ids) > 200, timeout=60, what="orders flowing")
        started = time.monotonic()
        assert faulty_stack.kill_worker(0, signal.SIGTERM) == 0
        assert time.monotonic() - started < 30
        faulty_stack.restart_worker(0)
        return 1

    run_and_check(faulty_stack, terminate, count=600, rate=30)


def test_a_worker_that_lost_its_rocksdb_rebuilds_from_the_changelog(faulty_stack: DevStack) -> None:
    def lose_disk(stream: OrderStream) -> int:
        eventually(lambda: len(stream.order_ids) > 200, timeout=60, what="orders flowing")
        faulty_stack.kill_worker(1)
        shutil.rmtree(faulty_stack.worker_data_dir(1))
        faulty_stack.restart_worker(1)
        return 1

    run_and_check(faulty_stack, lose_disk, count=600, rate=30)
