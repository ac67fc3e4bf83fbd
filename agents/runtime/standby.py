"""Keeps this worker's standby table copies current, and says how current.

A standby copy is what makes a failover fast: the worker that takes a dead
worker's partitions over starts from it. Faust holds the standby records it
reads in memory until 1,000 of one table have come (``recovery_buffer_size``)
or a rebalance begins, so a copy could sit hundreds of records behind for as
long as traffic is light (what an earlier note here took for standbys that
stop following after a broker restart). A timer applies what Faust holds
every few seconds, then asks the broker for the changelogs' end offsets (one
ListOffsets request for all of them) and compares each with the offset
stored in the standby's RocksDB, the last changelog record applied to it.
Faust reports standby progress only against the high watermarks it read
when its recovery began, which a copy that stopped following would pass.

Consumes nothing itself (Faust's recovery reads the standby changelogs);
produces nothing; owns the ``orderflow_standby_lag_records`` gauge
(changelog records not yet in this worker's standby copies, per table).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from faust.types import TP

from orderflow.agents.runtime.offsets import BrokerOffsets
from orderflow.kafka_client import KafkaClient
from orderflow.metrics import STANDBY_LAG

__all__ = ["lag_per_table", "watch_standby_lag"]

log = logging.getLogger(__name__)
CHECK_EVERY_S = 5.0


def lag_per_table(standbys: Mapping[TP, Any], ends: Mapping[TP, int]) -> dict[str, int]:
    """Records each table's standby copies lack: end offset minus next offset to apply."""
    lag: dict[str, int] = {}
    for tp, table in standbys.items():
        applied = table.persisted_offset(tp)
        behind = ends[tp] - (applied + 1 if applied is not None else 0)
        lag[table.name] = lag.get(table.name, 0) + max(0, behind)
    return lag


def watch_standby_lag(app: Any, kafka: KafkaClient) -> None:
    """Every few seconds, apply the standby records Faust holds and set the
    standby lag gauge of each table."""
    offsets = BrokerOffsets(kafka)
    changelogs = app.tables._changelogs  # changelog topic -> table (Faust 0.15.3)

    @app.timer(interval=CHECK_EVERY_S)
    async def measure_standby_lag() -> None:
        app.tables.recovery.flush_buffers()  # what Faust does at a rebalance (0.15.3)
        standbys = {tp: changelogs[tp.topic] for tp in app.assignor.assigned_standbys() if tp.topic in changelogs}
        seen = {table.name: 0 for table in changelogs.values()}
        if standbys:
            try:
                ends = await asyncio.to_thread(offsets.ends, list(standbys))
            except Exception as exc:  # noqa: BLE001 - the broker is away: the lag is unknown, not zero
                log.info("standby lag not measured: %s", exc)
                for table in seen:
                    STANDBY_LAG.labels(table).set(float("nan"))
                return
            seen.update(lag_per_table(standbys, ends))
        for table, behind in seen.items():
            STANDBY_LAG.labels(table).set(behind)
