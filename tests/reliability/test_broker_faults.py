"""Broker faults during a steady stream of orders, each proven by the invariant
checker: the only broker killed and restarted on its data, and one broker of
three killed -9 and brought back (replication factor 3, min.insync.replicas 2,
producers with acks=all and idempotence)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from support.chaos import OrderStream, chaos_stack, run_and_check
from support.waiting import eventually

pytestmark = pytest.mark.chaos


def test_the_only_broker_restarting_on_its_data_loses_and_doubles_nothing(tmp_path: Path) -> None:
    with chaos_stack(tmp_path) as (stack, kafka):
        def restart_broker(stream: OrderStream) -> int:
            eventually(lambda: stream.sent(300), timeout=60, what="orders flowing")
            kafka.kill(1)
            time.sleep(5)  # the broker stays down a while: producers and workers must ride it out
            kafka.start_node(1)
            return 1

        run_and_check(stack, restart_broker, count=1000, rate=40)


def test_one_broker_of_three_killed_and_back_loses_and_doubles_nothing(tmp_path: Path) -> None:
    with chaos_stack(tmp_path, nodes=3) as (stack, kafka):
        assert stack.settings.replication_factor == 3 and stack.settings.min_insync_replicas == 2

        def kill_a_broker(stream: OrderStream) -> int:
            eventually(lambda: stream.sent(200), timeout=60, what="orders flowing")
            kafka.kill(2)
            eventually(lambda: stream.acknowledged(500), timeout=60, what="orders acknowledged without broker 2")
            kafka.start_node(2)
            return 1

        run_and_check(stack, kill_a_broker, count=1000, rate=40)
