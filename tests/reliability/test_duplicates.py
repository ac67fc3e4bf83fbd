"""Duplicated and reordered ingress: a fifth of the PlaceOrder commands sent
twice during the stream; afterwards every payment event of a third of the
orders sent again, each order's in reverse order. The invariants hold and no
order changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from support.chaos import OrderStream, chaos_stack, run_and_check
from support.invariants import check
from support.progress import group_lag
from support.waiting import eventually

from orderflow.gateway.producer import producer_config
from orderflow.kafka_acls import PRODUCER
from orderflow.kafka_client import KafkaClient, as_client
from orderflow.schemas import catalog

pytestmark = pytest.mark.chaos


def raw_records(bootstrap: KafkaClient | str, spec: catalog.TopicSpec) -> list[tuple[bytes, bytes, list]]:
    """Every (key, value, headers) of a topic as stored, partition by partition."""
    consumer = Consumer({**as_client(bootstrap).config(), "group.id": "duplicator", "enable.auto.commit": False})
    found = []
    try:
        for p in consumer.list_topics(spec.name, timeout=10).topics[spec.name].partitions:
            high = consumer.get_watermark_offsets(TopicPartition(spec.name, p), timeout=10)[1]
            consumer.assign([TopicPartition(spec.name, p, 0)])
            position = 0
            while position < high:
                message = consumer.poll(5)
                if message is not None and message.error() is None:
                    position = message.offset() + 1
                    found.append((message.key(), message.value(), message.headers() or []))
    finally:
        consumer.close()
    return found


def test_duplicated_and_reordered_ingress_changes_nothing(tmp_path: Path) -> None:
    with chaos_stack(tmp_path) as (stack, _kafka):
        def no_fault(_stream: OrderStream) -> int:
            return 0

        before = run_and_check(stack, no_fault, count=450, rate=60, duplicate_share=0.2)
        order_ids = sorted(before.orders)
        chosen = set(order_ids[::3])
        by_order: dict[bytes, list] = {}
        for key, value, headers in raw_records(stack.settings.kafka, catalog.PAYMENT_EVENTS):
            if key.decode() in chosen:
                by_order.setdefault(key, []).append((value, headers))
        producer = Producer(producer_config(stack.client(PRODUCER)))  # as another payment service would
        resent = 0
        for key, records in by_order.items():
            for value, headers in reversed(records):
                producer.produce(catalog.PAYMENT_EVENTS.name, key=key, value=value, headers=headers)
                resent += 1
        assert producer.flush(30) == 0 and resent > 0
        # every topic, not only payments.events: what the re-sent events caused must be handled too
        eventually(lambda: not group_lag(stack, topics=None), timeout=120,
                   what="the re-sent payment events and all they caused handled")

        after = check(stack, order_ids, before.initial_stock)
        print(f"\nre-sent {resent} payment events of {len(by_order)} orders in reverse; {after.figures()}")
        assert after.ok(), after.problems
        changed = [o for o in order_ids if before.orders[o]["status"] != after.orders[o]["status"]
                   or before.orders[o]["paymentStatus"] != after.orders[o]["paymentStatus"]]
        assert changed == []
