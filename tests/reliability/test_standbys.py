"""The only broker killed -9 and restarted on its data during a stream of
orders loses and doubles nothing (the invariant checker), and the standby
copies follow their changelogs again afterwards, so a failover starts from
them: every worker's standby lag (measured against the broker's end
offsets) drains to zero, and a worker then killed -9 and kept down is taken
over by the survivor, which restores next to nothing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from support.chaos import BROKER_START_TIMEOUT_S, SESSION_TIMEOUT_S, OrderStream, chaos_stack, run_and_check
from support.http import get
from support.metrics import sample_value
from support.waiting import eventually, eventually_value

from orderflow.partitioning import partition_for_key
from orderflow.schemas import catalog
from orderflow.stack import DevStack

pytestmark = pytest.mark.chaos

LAG = "orderflow_standby_lag_records"
RESTORED = "orderflow_restore_records_total"


def standby_lag(stack: DevStack, index: int) -> dict[str, float | None]:
    """One worker's standby lag per table (None: not measured yet)."""
    return {t.name: sample_value(stack.worker_url(index), LAG, table=t.name)
            for t in catalog.TABLES if t.stored_in is None}


def caught_up(lag: dict[str, float | None]) -> bool:
    return all(v == 0 for v in lag.values())


def test_the_only_broker_restarting_loses_nothing_and_standbys_follow_again_and_carry_a_failover(
        tmp_path: Path) -> None:
    with chaos_stack(tmp_path) as (stack, kafka):
        streams: list[OrderStream] = []

        def restart_broker(stream: OrderStream) -> int:
            streams.append(stream)
            eventually(lambda: stream.sent(150), timeout=60, what="orders flowing")
            kafka.kill(1)
            time.sleep(5)  # the broker stays down a while: producers and workers must ride it out
            kafka.start_node(1, timeout=BROKER_START_TIMEOUT_S)
            return 1

        run_and_check(stack, restart_broker, count=400, rate=40)
        for index in (0, 1):
            eventually_value(lambda i=index: standby_lag(stack, i), caught_up, timeout=60,
                             what=f"worker-{index}'s standby copies up to date")

        restored_before = sample_value(stack.worker_url(0), RESTORED) or 0.0
        stack.kill_worker(1)
        killed = time.monotonic()
        # the survivor serves every partition: an order of each is read from it
        for order_id in one_order_per_partition(stack, streams[0].order_ids):
            eventually(lambda o=order_id: get(f"{stack.gateway_url}/api/v1/orders/{o}").status == 200,
                       timeout=SESSION_TIMEOUT_S + 60, what=f"{order_id} served by the survivor")
        took_over = time.monotonic() - killed
        restored = (sample_value(stack.worker_url(0), RESTORED) or 0.0) - restored_before
        print(f"\ntakeover after kill -9: every partition served after {took_over:.1f} s "
              f"(session timeout {SESSION_TIMEOUT_S:.0f} s); the survivor restored {restored:.0f} records")
        # the standby copies were current: the survivor read next to nothing
        assert restored < 1000


def one_order_per_partition(stack: DevStack, order_ids: list[str]) -> list[str]:
    found: dict[int, str] = {}
    for order_id in order_ids:
        found.setdefault(partition_for_key(order_id.encode(), stack.settings.partitions), order_id)
    assert len(found) == stack.settings.partitions
    return list(found.values())
