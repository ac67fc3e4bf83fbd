"""Samples taken while a step runs: the consumer group's lag and the CPU
seconds of each process.

Consumes the broker address, the group id (the app id of the stack) and the
pids of the stack's processes; produces a lag series (per second: the sum over
every partition the group has committed of end offset minus committed offset,
and the topic with the most) and CPU seconds per process between two marks.
Lag is the *committed* lag, so it has a floor of about one commit interval of
traffic even when the workers keep up. ``RecordCount`` reads every topic's end
offsets and the group's committed offsets at two marks: the records produced
per topic (changelogs included) and consumed by the group between them.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import psutil
from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from orderflow.kafka_client import KafkaClient, as_client

__all__ = ["CpuProbe", "LagProbe", "RecordCount", "group_lag"]


def _committed(admin: AdminClient, group: str, timeout: float) -> dict[tuple[str, int], int]:
    request = ConsumerGroupTopicPartitions(group)
    committed = admin.list_consumer_group_offsets([request], request_timeout=timeout)[group].result()
    return {(tp.topic, tp.partition): tp.offset for tp in committed.topic_partitions if tp.offset >= 0}


def _end_offsets(admin: AdminClient, topics: list[str], timeout: float) -> dict[tuple[str, int], int]:
    metadata = admin.list_topics(timeout=timeout).topics
    tps = [TopicPartition(t, p) for t in topics if t in metadata for p in metadata[t].partitions]
    if not tps:
        return {}
    ends = admin.list_offsets({tp: OffsetSpec.latest() for tp in tps}, request_timeout=timeout)
    return {(tp.topic, tp.partition): future.result().offset for tp, future in ends.items()}


def _per_topic(before: dict[tuple[str, int], int], after: dict[tuple[str, int], int]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for (topic, partition), offset in after.items():
        totals[topic] = totals.get(topic, 0) + offset - before.get((topic, partition), 0)
    return {topic: n for topic, n in sorted(totals.items()) if n}


class RecordCount:
    """Records produced to each of ``topics`` and consumed from each by ``group`` between two marks.

    Consumed is the group's committed offsets moving (the agents' inputs); a
    changelog is produced by the workers and read only on recovery (or by a
    standby), so it shows under produced only."""

    def __init__(self, kafka: KafkaClient | str, group: str, topics: list[str], timeout: float = 10.0) -> None:
        self.admin = AdminClient(as_client(kafka).config())
        self._group, self._topics, self._timeout = group, topics, timeout
        self._ends: dict[tuple[str, int], int] = {}
        self._committed: dict[tuple[str, int], int] = {}

    def mark(self) -> None:
        self._ends = _end_offsets(self.admin, self._topics, self._timeout)
        self._committed = _committed(self.admin, self._group, self._timeout)

    def since_mark(self) -> dict[str, dict[str, int]]:
        return {"produced": _per_topic(self._ends, _end_offsets(self.admin, self._topics, self._timeout)),
                "consumed": _per_topic(self._committed, _committed(self.admin, self._group, self._timeout))}


def group_lag(admin: AdminClient, group: str, timeout: float = 5.0) -> dict[str, int]:
    """Per topic: the group's lag summed over that topic's partitions."""
    committed = _committed(admin, group, timeout)
    if not committed:
        return {}
    ends = admin.list_offsets({TopicPartition(*tp): OffsetSpec.latest() for tp in committed},
                              request_timeout=timeout)
    latest = {(tp.topic, tp.partition): future.result().offset for tp, future in ends.items()}
    lag: dict[str, int] = {}
    for (topic, partition), offset in committed.items():
        lag[topic] = lag.get(topic, 0) + max(0, latest[(topic, partition)] - offset)
    return lag


class LagProbe:
    """Samples the group's lag about once a second in a thread."""

    def __init__(self, kafka: KafkaClient | str, group: str, interval: float = 1.0) -> None:
        self._admin = AdminClient(as_client(kafka).config())
        self._group = group
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-lag", daemon=True)
        self.samples: list[dict[str, Any]] = []
        self.errors = 0
        self._t0 = time.monotonic()

    def start(self, t0: float) -> None:
        self._t0 = t0
        self._thread.start()

    def stop(self) -> list[dict[str, Any]]:
        self._stop.set()
        self._thread.join(10)
        return self.samples

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                lag = group_lag(self._admin, self._group)
            except KafkaException:
                self.errors += 1
                continue
            top = max(lag, key=lambda topic: lag[topic], default=None)
            self.samples.append({"t": round(time.monotonic() - self._t0, 2), "lag": sum(lag.values()),
                                 "top_topic": top, "top_lag": lag.get(top, 0) if top else 0})


def _cpu_seconds(process: psutil.Process, children: bool) -> float:
    """User + system CPU seconds of a process (and its children)."""
    total = 0.0
    for proc in [process, *(process.children(recursive=True) if children else ())]:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


class CpuProbe:
    """CPU seconds per named process (and this benchmark process) between ``mark`` and ``since_mark``."""

    def __init__(self, pids: dict[str, int]) -> None:
        self._processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self._processes["bench"] = psutil.Process(os.getpid())
        self._marks: dict[str, float] = {}
        self._wall = 0.0

    def mark(self) -> None:
        self._marks = {name: self._read(name, p) for name, p in self._processes.items()}
        self._wall = time.monotonic()

    def since_mark(self) -> dict[str, Any]:
        wall = time.monotonic() - self._wall
        used = {name: round(self._read(name, p) - self._marks.get(name, 0.0), 2)
                for name, p in self._processes.items()}
        return {"wall_s": round(wall, 2), "cpu_s": used, "total_cpu_s": round(sum(used.values()), 2),
                "cores": psutil.cpu_count()}

    @staticmethod
    def _read(name: str, process: psutil.Process) -> float:
        try:  # the bench's own children are the stack: counted under their own names
            return _cpu_seconds(process, children=name != "bench")
        except psutil.Error:
            return 0.0
