"""Runs one Faust worker process: creates the catalog's topics, builds the app
and serves until SIGINT or SIGTERM (Faust's worker drains and commits first).

Owns the worker's data directory. Its tables' local state is kept across
crashes: rows reach RocksDB only once their changelog records are
acknowledged (``agents.runtime.checkpoints``), so after a kill -9 the local state is
never ahead of the changelog, and recovery reads only the changelog records
past the offset stored with it.
"""

from __future__ import annotations

import faust

from orderflow.agents.app import create_app
from orderflow.kafka_acls import WORKER, topics_of
from orderflow.logs import worker_logging_config
from orderflow.settings import Settings
from orderflow.topics import ensure_topics
from orderflow.tracing import start_tracing

__all__ = ["new_worker", "run_worker"]


def new_worker(app: faust.App, settings: Settings) -> faust.Worker:
    """Faust's worker for ``app``, without its terminal spinner.

    At WARNING and above, Faust hangs the spinner on the root logger and sets
    that logger to DEBUG, so every debug call on the hot path built a record
    that nobody prints (about a tenth of a worker's CPU)."""
    worker = faust.Worker(app, loglevel=settings.log_level.upper(), redirect_stdouts=False,
                          logging_config=worker_logging_config(settings))
    worker.spinner = None
    return worker


def run_worker(settings: Settings) -> None:
    # its own topics only (with their partition counts checked); the gateway's are not its business
    ensure_topics(settings, specs=topics_of(WORKER, settings.app_id))
    start_tracing(settings, "worker")
    pipeline = create_app(settings)
    worker = new_worker(pipeline.app, settings)
    worker.execute_from_commandline()
