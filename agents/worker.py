"""Runs one Faust worker process: creates the catalog's topics, builds the app
and serves until SIGINT or SIGTERM (Faust's worker drains and commits first).

Owns the worker's data directory. Local RocksDB writes reach the disk at once,
their changelog records only when the producer sends them, so a worker killed
in between would come back with rows its changelog never got: its replays
would find them "already applied" and write nothing, and the next worker to
restore that partition from the changelog would miss them. Kafka Streams
wipes local state after an unclean stop for the same reason; so does this: a
worker that finds its data directory without the mark of a clean stop
discards it and restores every table from the changelogs.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import faust
from orderflow.agents.app import create_app
from orderflow.settings import Settings
from orderflow.topics import ensure_topics

__all__ = ["CLEAN_STOP_MARK", "discard_state_after_crash", "new_worker", "run_worker"]

log = logging.getLogger(__name__)
CLEAN_STOP_MARK = ".stopped-cleanly"


def discard_state_after_crash(data_dir: Path) -> bool:
    """Empty ``data_dir`` unless its last worker stopped cleanly; True if it did."""
    mark = data_dir / CLEAN_STOP_MARK
    if mark.exists():
        mark.unlink()
        return False
    if not data_dir.exists() or not any(data_dir.iterdir()):
        return False
    log.warning("%s was not left by a clean stop: discarding it, tables restore from their changelogs",
                data_dir)
    shutil.rmtree(data_dir)
    return True


def new_worker(app: faust.App, log_level: str) -> faust.Worker:
    """Faust's worker for ``app``, without its terminal spinner.

    At WARNING and above, Faust hangs the spinner on the root logger and sets
    that logger to DEBUG, so every debug call on the hot path built a record
    that nobody prints (about a tenth of a worker's CPU)."""
    worker = faust.Worker(app, loglevel=log_level.upper(), redirect_stdouts=False)
    worker.spinner = None
    return worker


def run_worker(settings: Settings) -> None:
    discard_state_after_crash(settings.data_dir)
    ensure_topics(settings)
    pipeline = create_app(settings)
    worker = new_worker(pipeline.app, settings.log_level)
    try:
        worker.execute_from_commandline()
    except SystemExit as stop:
        # Faust exits 0 only after its last commit and closing the tables.
        if stop.code in (0, None) and worker.crash_reason is None:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            (settings.data_dir / CLEAN_STOP_MARK).touch()
        raise
