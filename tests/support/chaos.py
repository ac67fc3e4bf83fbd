"""What every fault test shares: a stack of its own on a fresh broker, seeded
products and customers, an open-loop stream of PlaceOrder commands straight to
Kafka, and the wait for every order to settle before the invariant checker
runs.

The load can break the rules: a few hot products have less stock than the
stream asks of them, so they sell out mid-run, under the faults, and orders
race for their last units; the velocity limit is raised out of the way, so
rejections come from stock, not from ten customers ordering fast.

ORDERFLOW_SOAK=1 makes every stream ten times longer, for the benchmark machine.
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from orderflow.broker import LocalKafka, ensure_jars
from orderflow.dev_kafka import broker_security, settings_as
from orderflow.gateway.producer import producer_config
from orderflow.kafka_acls import ADMIN, PRODUCER
from orderflow.partitioning import partition_for_key
from orderflow.ports import free_port, free_port_run
from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec
from orderflow.settings import Settings
from orderflow.stack import DevStack
from orderflow.topics import ensure_topics
from support.fixtures import TEST_SCOPES, TOKEN_TTL_S
from support.http import authorize, get, post_json
from support.invariants import SETTLED, Report, check
from support.progress import group_lag
from support.waiting import eventually

__all__ = ["BROKER_START_TIMEOUT_S", "SESSION_TIMEOUT_S", "OrderStream", "chaos_stack", "run_and_check", "seed",
           "settle"]

REPO_ROOT = Path(__file__).resolve().parents[2]
SOAK = 10 if os.environ.get("ORDERFLOW_SOAK") else 1
PRODUCTS, UNITS, CUSTOMERS = 20, 400, 10
# Each product is in a tenth of the orders at 2 units on average: about 0.2
# units per order, so 40 units of a hot product last some 200 orders, a
# third into the shortest streams.
HOT_PRODUCTS, HOT_UNITS = 3, 40
SESSION_TIMEOUT_S = 10.0
# A broker restarted under the stream's load recovers its logs on a starved
# CPU: 54 s on a quiet day, past 120 s in one CI run.
BROKER_START_TIMEOUT_S = 300.0
# Half the default: still several partitions per worker and per topic to move
# at every rebalance, but half the RocksDB stores to open and recover at each
# of the many restarts, which keeps the suite within CI time.
PARTITIONS = 6


@contextmanager
def chaos_stack(tmp_path: Path, nodes: int = 1, prepare: Callable[[Settings], None] | None = None,
                **overrides: Any) -> Iterator[tuple[DevStack, LocalKafka]]:
    """Two workers, the gateway, the payment and carrier simulators on a broker of their
    own; ``prepare`` runs once the topics exist, before any worker starts."""
    fields: dict[str, Any] = dict(
        app_id=f"orderflow-chaos-{uuid.uuid4().hex[:6]}",
        run_dir=tmp_path / "stack", worker_port=free_port_run(2), gateway_port=free_port(),
        payment_sim_port=free_port(), payment_timeout_s=120.0,
        payment_breaker_recovery_s=1.0,
        group_session_timeout_s=SESSION_TIMEOUT_S, stall_timeout_s=45.0, partitions=PARTITIONS,
        replication_factor=min(3, nodes), min_insync_replicas=max(1, min(3, nodes) - 1),
        velocity_max_orders=1_000_000,
        # Plain HTTP inside the fault stacks: the faults are Kafka's, the workers' and the provider's, and
        # asyncio's TLS transport costs every HTTP call CPU (measured: a kill -9 run took 146 s without it,
        # 172 s with it), which CI's time budget cannot pay eight times. The session stack, the e2e tests
        # and the benchmark run with TLS; authentication and the API keys stay on here.
        local_tls=False,
        # A carrier that books and stops parcels, checked by the judge (one per kept order), but moves none:
        # a run's orders stay confirmed while it is read.
        carrier_sim_port=free_port(), carrier_sim_picked_up_after_s=-1, carrier_sim_in_transit_after_s=-1,
        carrier_sim_delivered_after_s=-1,
    )
    fields.update(overrides)
    settings = Settings(**fields)
    # Kafka as `orderflow dev` runs it: SASL_SSL, a SCRAM user per component, the catalog's ACLs
    kafka = LocalKafka(tmp_path / "kafka", nodes=nodes, port=0, lib_dir=ensure_jars(REPO_ROOT / "run"),
                       security=broker_security(settings))
    kafka.start(fresh=True)
    # No mail sink: the checker proves the notifications on their topic; their delivery by email is
    # the e2e and integration tests' (a sink would only add its CPU to every fault's load).
    stack = DevStack(settings, workers=2, echo=lambda _line: None, broker=kafka, mail_sink=False)
    try:
        if prepare is not None:
            admin = settings_as(settings, ADMIN, kafka.bootstrap_servers)
            ensure_topics(admin)
            prepare(admin)
        stack.start()
        authorize(stack.gateway_url, stack.token(*TEST_SCOPES, subject="tests", ttl_s=TOKEN_TTL_S), stack.ca_file)
        yield stack, kafka
    finally:
        stack.stop(kill=True)  # the checker has run: a clean stop would only cost time
        kafka.stop()


def seed(stack: DevStack) -> tuple[list[str], list[str], dict[str, int]]:
    products = [f"prod_{i}" for i in range(PRODUCTS)]
    initial = {p: (HOT_UNITS if i < HOT_PRODUCTS else UNITS) * SOAK for i, p in enumerate(products)}
    for product, units in initial.items():
        assert post_json(f"{stack.gateway_url}/api/v1/inventory/{product}/adjustments",
                         {"type": "restock", "quantity": units}).status == 202
    customers = []
    for i in range(CUSTOMERS):
        reply = post_json(f"{stack.gateway_url}/api/v1/customers", {"email": f"chaos{i}@example.com"})
        assert reply.status == 201, reply.body
        customers.append(reply.json()["customerId"])
    for product in products:
        eventually(lambda p=product: get(f"{stack.gateway_url}/api/v1/inventory/{p}").status == 200,
                   timeout=60, what=f"{product} seeded")
    return products, customers, initial


class OrderStream:
    """Open-loop PlaceOrder commands straight to Kafka at a fixed rate, in a
    thread, until ``count`` are sent; ``duplicate_share`` of them are sent twice.

    ``order_ids`` lists the orders handed to the producer, ``delivered`` how
    many the broker acknowledged; ``join`` raises what ended the thread early."""

    def __init__(self, stack: DevStack, products: list[str], customers: list[str], count: int, rate: float,
                 duplicate_share: float = 0.0):
        self.stack, self.products, self.customers = stack, products, customers
        self.count, self.rate, self.duplicate_share = count, rate, duplicate_share
        self.order_ids: list[str] = []
        self.delivered = 0
        self.duplicates = 0
        self.error: BaseException | None = None
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
        try:
            self._stream()
        except BaseException as exc:  # noqa: BLE001 - re-raised by join(), in the test's own thread
            self.error = exc

    def _on_delivery(self, error: object, _message: object) -> None:
        if error is None:
            self.delivered += 1

    def _stream(self) -> None:
        producer = Producer(producer_config(self.stack.client(PRODUCER)))  # an external producer of orders
        start = time.monotonic()
        for i in range(self.count):
            delay = start + i / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # the schedule of an open-loop load, not a wait for a condition
            order_id = f"ord_chaos_{i}_{uuid.uuid4().hex[:6]}"
            value = self.codec.encode("orderflow.v1.PlaceOrder", self._command(order_id))
            copies = 2 if self.random.random() < self.duplicate_share else 1
            producer.produce(catalog.ORDER_COMMANDS.name, key=order_id.encode(), value=value,
                             on_delivery=self._on_delivery)
            for _ in range(copies - 1):
                producer.produce(catalog.ORDER_COMMANDS.name, key=order_id.encode(), value=value)
            self.duplicates += copies - 1
            producer.poll(0)
            self.order_ids.append(order_id)
        assert producer.flush(120) == 0

    def start(self) -> None:
        self.thread.start()

    def join(self) -> None:
        self.thread.join()
        if self.error is not None:
            raise AssertionError(f"the order stream failed after {len(self.order_ids)} of {self.count} "
                                 f"orders: {self.error!r}") from self.error

    def sent(self, at_least: int) -> bool:
        """Whether at least this many orders were handed to the producer."""
        self._raise_if_failed()
        return len(self.order_ids) >= at_least

    def acknowledged(self, at_least: int) -> bool:
        """Whether the broker acknowledged at least this many orders."""
        self._raise_if_failed()
        return self.delivered >= at_least

    def _raise_if_failed(self) -> None:
        # A fault waiting on a stream that died would otherwise only time out.
        if self.error is not None:
            self.join()


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


def run_and_check(stack: DevStack, fault: Callable[[OrderStream], int], count: int, rate: float,
                  duplicate_share: float = 0.0) -> Report:
    """Seed, stream ``count`` orders while ``fault`` runs, settle, check the invariants."""
    products, customers, initial = seed(stack)
    stream = OrderStream(stack, products, customers, count * SOAK, rate, duplicate_share)
    stream.start()
    faults = fault(stream)
    stream.join()
    settle(stack, stream.order_ids, timeout=300)
    # A settled order's last line results may still be on their way (the stock
    # sold a line, the order row has not heard yet): read only once every
    # message the workers consume has been handled and committed.
    eventually(lambda: not group_lag(stack, topics=None), timeout=120, what="every message handled")
    report = check(stack, stream.order_ids, initial, expected=stream.count)
    print(f"\n{fault.__name__}: {faults} faults, {stream.duplicates} duplicated commands, "
          f"{len(stack.restarts)} supervised restarts; {report.figures()}")
    assert report.ok(), report.problems
    assert report.checked == len(stream.order_ids) == stream.count
    # the load broke the rules it is meant to: hot products sold out under the faults
    assert report.rejected_for["out_of_stock"] > 0, report.figures()
    return report
