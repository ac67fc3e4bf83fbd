"""How far behind this worker's agents are, and how often the group rebalances.

Every few seconds a timer asks the broker (one ListOffsets and one
OffsetFetch request for all of them) for the end offsets and the group's
committed offsets of the source partitions this worker owns, and sets the
lag gauges per topic and partition. The committed offset trails what was
handled by up to a commit interval, so the next offset each agent handled,
kept here as it goes, is preferred where it is further on. A topic read by
two agents (orders.by-customer) reports the one further behind.

A Faust sensor (the public hook for rebalance events) counts rebalances and
times each from its start until the tables are recovered and the agents run.

Consumes and produces nothing; owns orderflow_consumer_lag_records,
orderflow_consumer_lag_seconds, orderflow_rebalances_total and
orderflow_rebalance_seconds.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from faust.sensors import Sensor
from faust.types import TP

from orderflow.agents.runtime.offsets import BrokerOffsets
from orderflow.kafka_client import KafkaClient
from orderflow.metrics import CONSUMER_LAG_RECORDS, CONSUMER_LAG_SECONDS, REBALANCE_SECONDS, REBALANCES

__all__ = ["Behind", "Progress", "RebalanceSensor", "behind", "measure_progress"]

log = logging.getLogger(__name__)
CHECK_EVERY_S = 5.0


@dataclass(frozen=True, slots=True)
class Behind:
    records: int
    seconds: float  # NaN: records wait, but none was handled here to date them by


class Progress:
    """The next offset each agent has to handle per partition, and when the
    record before it was produced (``handled`` is called once per message:
    a dict store)."""

    def __init__(self) -> None:
        self.readers: dict[str, list[str]] = {}  # topic -> agents reading it
        self.next: dict[tuple[str, TP], tuple[int, float]] = {}

    def reads(self, agent: str, topics: Iterable[str]) -> None:
        for topic in topics:
            self.readers.setdefault(topic, []).append(agent)

    def handled(self, agent: str, tp: TP, offset: int, timestamp: float) -> None:
        self.next[(agent, tp)] = (offset + 1, timestamp)


def behind(progress: Progress, tp: TP, end: int, committed: int, now: float) -> Behind:
    """The lag of ``tp``: the worst of the agents reading it. ``committed`` is
    the group's committed offset (-1 when none)."""
    worst = Behind(0, 0.0)
    for agent in progress.readers.get(tp.topic, ()):
        handled_next, produced_at = progress.next.get((agent, tp), (-1, math.nan))
        records = max(0, end - max(handled_next, committed, 0))
        if records == 0:
            continue
        # a stale entry from an earlier assignment is behind the commit: it dates nothing
        seconds = now - produced_at if handled_next >= committed else math.nan
        if records > worst.records:
            worst = Behind(records, max(0.0, seconds) if not math.isnan(seconds) else seconds)
    return worst


def set_lag(progress: Progress, ends: Mapping[TP, int], committed: Mapping[TP, int], now: float) -> None:
    CONSUMER_LAG_RECORDS.clear()  # partitions given away stop reporting
    CONSUMER_LAG_SECONDS.clear()
    for tp, end in ends.items():
        lag = behind(progress, tp, end, committed.get(tp, -1), now)
        CONSUMER_LAG_RECORDS.labels(tp.topic, str(tp.partition)).set(lag.records)
        CONSUMER_LAG_SECONDS.labels(tp.topic, str(tp.partition)).set(lag.seconds)


def watch_consumer_lag(app: Any, kafka: KafkaClient, progress: Progress) -> None:
    """Every few seconds, set the lag gauges of the source partitions this worker owns."""
    offsets, group = BrokerOffsets(kafka), app.conf.id

    def read(owned: list[TP]) -> tuple[dict[TP, int], dict[TP, int]]:
        return offsets.ends(owned), offsets.committed(group, owned)

    @app.timer(interval=CHECK_EVERY_S)
    async def measure_consumer_lag() -> None:
        if app.rebalancing:
            return
        owned = [tp for tp in app.assignor.assigned_actives() if tp.topic in progress.readers]
        if not owned:
            set_lag(progress, {}, {}, time.time())
            return
        try:
            ends, committed = await asyncio.to_thread(read, owned)
        except Exception as exc:  # noqa: BLE001 - the broker is away: the lag is unknown, not zero
            log.info("consumer lag not measured: %s", exc)
            for tp in owned:
                CONSUMER_LAG_RECORDS.labels(tp.topic, str(tp.partition)).set(math.nan)
                CONSUMER_LAG_SECONDS.labels(tp.topic, str(tp.partition)).set(math.nan)
            return
        set_lag(progress, ends, committed, time.time())


class RebalanceSensor(Sensor):
    """Counts rebalances and times each until the agents run again."""

    def on_rebalance_start(self, app: Any) -> dict:
        REBALANCES.inc()
        return {"started": time.monotonic()}

    def on_rebalance_end(self, app: Any, state: dict) -> None:
        if "started" in state:
            REBALANCE_SECONDS.observe(time.monotonic() - state["started"])


def measure_progress(app: Any, kafka: KafkaClient) -> Progress:
    """Lag gauges and rebalance metrics for ``app``; its agents report to the returned ``Progress``."""
    progress = Progress()
    watch_consumer_lag(app, kafka, progress)
    app.sensors.add(RebalanceSensor())
    return progress
