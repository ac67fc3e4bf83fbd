"""The bench's per-order figures: each process's CPU per completed order, and
the records consumed and produced per order with the changelogs apart."""

from __future__ import annotations

from orderflow.bench.run import per_order_ms, records_per_order


def test_cpu_per_order_is_each_process_s_cpu_over_the_completed_orders() -> None:
    cpu = {"cpu_s": {"worker-0": 3.0, "broker": 1.5, "bench": 0.25}}
    assert per_order_ms(cpu, completed=500) == {"bench": 0.5, "broker": 3.0, "worker-0": 6.0}
    assert per_order_ms(cpu, completed=0) == {}


def test_records_per_order_count_the_changelogs_apart() -> None:
    records = {"produced": {"orders.events": 300, "stock.requests": 600, "app-orders-changelog": 400},
               "consumed": {"orders.commands": 100, "stock.requests": 600}}
    assert records_per_order(records, completed=100) == {"consumed": 7.0, "produced": 9.0, "changelog": 4.0}
    assert records_per_order(records, completed=0) == {}
