"""The runtime: what wraps Faust, in one place, so the business agents only see
"a keyed message in, the row, a decision out, records to send".

What agents use: ``Inbound`` (a decoded message), ``Rows`` (a table's typed
rows, written only by the table's writer), ``Outbox`` (records to the
component's own topics), ``Unhandleable`` (refuse a message: dead-lettered),
and ``Pipeline.add_agent`` in ``agents/app.py``, which runs a handler through
``handling.run_agent``.

What it repairs in Faust, each in its own module with its own unit tests:
``commits`` (offsets move only past handled messages), ``durability``
(acks=all and idempotence, commits wait for every changelog write, a failed
send stops the worker, recovery keeps what was fetched), ``checkpoints``
(RocksDB holds only acknowledged changelog writes), ``restore`` (bulk restore
through librdkafka), ``standby`` (standby buffers flushed, lag measured),
``progress`` (consumer lag and rebalances, measured, with ``offsets``: what the broker says of them),
``watchdog`` (the skip guard and the stall watch), ``failures`` (a bug is not a
poison message). ``install_repairs`` applies them to a ``DurableApp``;
``versions`` pins the libraries they were written against.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orderflow.agents.runtime.checkpoints import checkpoint_on_flush
from orderflow.agents.runtime.commits import commit_only_handled
from orderflow.agents.runtime.durability import keep_messages_fetched_on_resume, make_commits_wait_for_changelogs
from orderflow.agents.runtime.failures import Unhandleable
from orderflow.agents.runtime.handling import Inbound, Outbox
from orderflow.agents.runtime.progress import Progress, measure_progress
from orderflow.agents.runtime.restore import restore_in_bulk
from orderflow.agents.runtime.rows import Rows
from orderflow.agents.runtime.standby import watch_standby_lag
from orderflow.agents.runtime.versions import check_versions

if TYPE_CHECKING:
    from orderflow.agents.runtime.durability import DurableApp
    from orderflow.kafka_client import KafkaClient

__all__ = ["Inbound", "Outbox", "Progress", "Rows", "Unhandleable", "check_versions", "install_repairs",
           "measure_progress"]


def install_repairs(app: DurableApp, kafka: KafkaClient) -> None:
    """Apply every repair to ``app`` before its agents and tables are made."""
    check_versions()
    make_commits_wait_for_changelogs(app)
    checkpoint_on_flush(app, app.checkpoints)
    keep_messages_fetched_on_resume(app)
    restore_in_bulk(app, kafka)
    watch_standby_lag(app, kafka)
    commit_only_handled(app)
