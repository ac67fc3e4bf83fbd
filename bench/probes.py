"""Samples taken while a step runs: the consumer group's lag and the CPU
seconds of each process.

Consumes the broker address, the group id (the app id of the stack) and the
pids of the stack's processes; produces a lag series (per second: the sum over
every partition the group has committed of end offset minus committed offset,
and the topic with the most) and CPU seconds per process between two marks.
Lag is the *committed* lag, so it has a floor of about one commit interval of
traffic even when the workers keep up.
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

__all__ = ["CpuProbe", "LagProbe", "group_lag"]


def group_lag(admin: AdminClient, group: str, timeout: float = 5.0) -> dict[str, int]:
    """Per topic: the group's lag summed over that topic's partitions."""
    request = ConsumerGroupTopicPartitions(group)
    committed = admin.list_consumer_group_offsets([request], request_timeout=timeout)[group].result()
    tps = [tp for tp in committed.topic_partitions if tp.offset >= 0]
    if not tps:
        return {}
    ends = admin.list_offsets({TopicPartition(tp.topic, tp.partition): OffsetSpec.latest() for tp in tps},
                              request_timeout=timeout)
    latest = {(tp.topic, tp.partition): future.result().offset for tp, future in ends.items()}
    lag: dict[str, int] = {}
    for tp in tps:
        lag[tp.topic] = lag.get(tp.topic, 0) + max(0, latest[(tp.topic, tp.partition)] - tp.offset)
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
