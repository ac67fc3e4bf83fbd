"""How far this worker's standby table copies are behind their changelogs.

A standby copy is what makes a failover fast: the worker that takes a dead
worker's partitions over starts from it. Faust reports a standby's progress
only against the high watermarks it read when its recovery began, so a copy
that stopped following would look current. Here a timer asks the broker for
the changelogs' end offsets (one ListOffsets request for all of them) and
compares each with the offset stored in the standby's RocksDB, the offset of
the last changelog record applied to it.

Consumes nothing; produces nothing; owns the ``orderflow_standby_lag_records``
gauge (changelog records not yet in this worker's standby copies, per table).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec
from faust.types import TP
from orderflow.metrics import STANDBY_LAG

__all__ = ["StandbyLag", "watch_standby_lag"]

log = logging.getLogger(__name__)
CHECK_EVERY_S = 5.0


class StandbyLag:
    """Asks the broker for the end offsets of the changelogs this worker follows."""

    def __init__(self, bootstrap_servers: str) -> None:
        self._admin = AdminClient({"bootstrap.servers": bootstrap_servers})

    def end_offsets(self, tps: list[TP]) -> dict[TP, int]:
        request = {TopicPartition(tp.topic, tp.partition): OffsetSpec.latest() for tp in tps}
        futures = self._admin.list_offsets(request, request_timeout=10)
        return {TP(tp.topic, tp.partition): future.result().offset for tp, future in futures.items()}


def lag_per_table(standbys: Mapping[TP, Any], ends: Mapping[TP, int]) -> dict[str, int]:
    """Records each table's standby copies lack: end offset minus next offset to apply."""
    lag: dict[str, int] = {}
    for tp, table in standbys.items():
        applied = table.persisted_offset(tp)
        behind = ends[tp] - (applied + 1 if applied is not None else 0)
        lag[table.name] = lag.get(table.name, 0) + max(0, behind)
    return lag


def watch_standby_lag(app: Any, bootstrap_servers: str) -> None:
    """Every few seconds, set the standby lag gauge of each table."""
    lag = StandbyLag(bootstrap_servers)
    changelogs = app.tables._changelogs  # changelog topic -> table (Faust 0.15.3)

    @app.timer(interval=CHECK_EVERY_S)
    async def measure_standby_lag() -> None:
        standbys = {tp: changelogs[tp.topic] for tp in app.assignor.assigned_standbys() if tp.topic in changelogs}
        seen = {table.name: 0 for table in changelogs.values()}
        if standbys:
            try:
                ends = await asyncio.to_thread(lag.end_offsets, list(standbys))
            except Exception as exc:  # the broker is away: keep the last figures
                log.info("standby lag not measured: %s", exc)
                return
            seen.update(lag_per_table(standbys, ends))
        for table, behind in seen.items():
            STANDBY_LAG.labels(table).set(behind)
