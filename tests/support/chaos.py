"""What every fault test shares: a stack of its own on a fresh broker, seeded
products and customers, an open-loop stream of PlaceOrder commands straight to
Kafka, and the wait for every order to settle before the invariant checker
runs.

ORDERFLOW_SOAK=1 makes every stream ten times longer, for the benchmark machine.
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer as KafkaConsumer
from confluent_kafka import ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from support.http import get, post_json
from support.invariants import SETTLED, Report, check
from orderflow.ports import free_port, free_port_run
from support.waiting import eventually

from orderflow.broker import LocalKafka, ensure_jars
from orderflow.gateway.producer import producer_config
from orderflow.partitioning import partition_for_key
from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec
from orderflow.settings import Settings
from orderflow.stack import DevStack

__all__ = ["OrderStream", "chaos_stack", "group_lag", "group_lag_of", "run_and_check", "seed", "settle"]

REPO_ROOT = Path(__file__).resolve().parents[2]
SOAK = 10 if os.environ.get("ORDERFLOW_SOAK") else 1
PRODUCTS, UNITS, CUSTOMERS = 20, 400, 10
SESSION_TIMEOUT_S = 10.0
# Half the default: still several partitions per worker and per topic to move
# at every rebalance, but half the RocksDB stores to open and recover at each
# of the many restarts, which keeps the suite within CI time.
PARTITIONS = 6


@contextmanager
def chaos_stack(tmp_path: Path, nodes: int = 1, **overrides: Any) -> Iterator[tuple[DevStack, LocalKafka]]:
    """Two workers, the gateway and the payment simulator on a broker of their own."""
    kafka = LocalKafka(tmp_path / "kafka", nodes=nodes, port=0, lib_dir=ensure_jars(REPO_ROOT / "run"))
    kafka.start(fresh=True)
    fields: dict[str, Any] = dict(
        bootstrap_servers=kafka.bootstrap_servers, app_id=f"orderflow-chaos-{uuid.uuid4().hex[:6]}",
        run_dir=tmp_path / "stack", worker_port=free_port_run(2), gateway_port=free_port(),
        payment_sim_port=free_port(), payment_timeout_s=120.0, payment_breaker_recovery_s=1.0,
        group_session_timeout_s=SESSION_TIMEOUT_S, stall_timeout_s=45.0, partitions=PARTITIONS,
        replication_factor=kafka.replication_factor, min_insync_replicas=kafka.min_insync_replicas,
    )
    fields.update(overrides)
    stack = DevStack(Settings(**fields), workers=2, echo=lambda _line: None)
    try:
        stack.start()
        yield stack, kafka
    finally:
        stack.stop(kill=True)  # the checker has run: a clean stop would only cost time
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
    """Open-loop PlaceOrder commands straight to Kafka at a fixed rate, in a
    thread, until ``count`` are sent; ``duplicate_share`` of them are sent twice."""

    def __init__(self, stack: DevStack, products: list[str], customers: list[str], count: int, rate: float,
                 duplicate_share: float = 0.0):
        self.stack, self.products, self.customers = stack, products, customers
        self.count, self.rate, self.duplicate_share = count, rate, duplicate_share
        self.order_ids: list[str] = []
        self.duplicates = 0
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
            value = self.codec.encode("orderflow.v1.PlaceOrder", self._command(order_id))
            copies = 2 if self.random.random() < self.duplicate_share else 1
            for _ in range(copies):
                producer.produce(catalog.ORDER_COMMANDS.name, key=order_id.encode(), value=value)
            self.duplicates += copies - 1
            producer.poll(0)
            self.order_ids.append(order_id)
        assert producer.flush(120) == 0

    def start(self) -> None:
        self.thread.start()

    def sent(self, at_least: int) -> bool:
        return len(self.order_ids) >= at_least


def settle(stack: DevStack, order_ids: list[str], timeout: float) -> None:
    """Wait until every order has settled.

    Orders are asked after in the order they were sent, and each round stops at
    the first one still unsettled: orders settle roughly in that order, so one
    read per round mostly suffices, where reading every unsettled order each
    round took CPU from the workers that were settling them."""
    unsettled = deque(order_ids)

    def all_settled() -> bool:
        while unsettled:
            reply = get(f"{stack.gateway_url}/api/v1/orders/{unsettled[0]}")
            if reply.status != 200 or reply.json()["status"] not in SETTLED:
                return False
            unsettled.popleft()
        return True

    try:
        eventually(all_settled, timeout=timeout, what="orders settled")
    except AssertionError:
        left = Counter(get(f"{stack.gateway_url}/api/v1/orders/{o}").json().get("status", "missing")
                       for o in list(unsettled)[:200])
        partitions = Counter(partition_for_key(o.encode(), stack.settings.partitions) for o in unsettled)
        raise AssertionError(f"{len(unsettled)} orders never settled; statuses of some: {dict(left)}; "
                             f"their partitions: {dict(partitions)}; group lag: {group_lag(stack)}; "
                             f"supervised restarts: {stack.restarts}") from None


MAIN_INPUTS = frozenset(s.name for s in (catalog.ORDER_COMMANDS, catalog.STOCK_RESULTS, catalog.STOCK_REQUESTS))


def group_lag(stack: DevStack, topics: Collection[str] | None = MAIN_INPUTS) -> dict[str, dict[int, int]]:
    """Per partition of ``topics`` (None: every topic the workers' group has
    committed on): end offset minus the group's committed offset, where not
    zero. A partition the group never committed on lags by its end offset."""
    admin = AdminClient({"bootstrap.servers": stack.settings.kafka_servers})
    request = ConsumerGroupTopicPartitions(stack.settings.app_id)
    committed = {(tp.topic, tp.partition): max(tp.offset, 0) for tp in
                 admin.list_consumer_group_offsets([request])[stack.settings.app_id].result().topic_partitions}
    names = {topic for topic, _ in committed} if topics is None else set(topics)
    consumer = KafkaConsumer({"bootstrap.servers": stack.settings.kafka_servers, "group.id": "lag-probe"})
    try:
        lag: dict[str, dict[int, int]] = {}
        for name in sorted(names):
            for partition in consumer.list_topics(name, timeout=10).topics[name].partitions:
                high = consumer.get_watermark_offsets(TopicPartition(name, partition), timeout=10)[1]
                if high - committed.get((name, partition), 0):
                    lag.setdefault(name, {})[partition] = high - committed.get((name, partition), 0)
        return lag
    finally:
        consumer.close()


def group_lag_of(stack: DevStack, spec: catalog.TopicSpec) -> dict[int, int]:
    """Partitions of one topic the workers' group has not committed to the end."""
    return group_lag(stack, {spec.name}).get(spec.name, {})


def run_and_check(stack: DevStack, fault: Callable[[OrderStream], int], count: int, rate: float,
                  duplicate_share: float = 0.0) -> Report:
    """Seed, stream ``count`` orders while ``fault`` runs, settle, check the invariants."""
    products, customers, initial = seed(stack)
    stream = OrderStream(stack, products, customers, count * SOAK, rate, duplicate_share)
    stream.start()
    faults = fault(stream)
    stream.thread.join()
    settle(stack, stream.order_ids, timeout=300)
    # A settled order's last line results may still be on their way (the stock
    # sold a line, the order row has not heard yet): read only once every
    # message the workers consume has been handled and committed.
    eventually(lambda: not group_lag(stack, topics=None), timeout=120, what="every message handled")
    report = check(stack, stream.order_ids, initial)
    print(f"\n{fault.__name__}: {faults} faults, {stream.duplicates} duplicated commands, "
          f"{len(stack.restarts)} supervised restarts; {report.figures()}")
    assert report.ok(), report.problems
    assert report.checked == len(stream.order_ids) > 0
    return report
