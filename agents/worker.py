"""Runs one Faust worker process: creates the catalog's topics, builds the app
and serves until SIGINT or SIGTERM (Faust's worker drains and commits first).
"""

from __future__ import annotations

import faust
from orderflow.agents.app import create_app
from orderflow.settings import Settings
from orderflow.topics import ensure_topics

__all__ = ["run_worker"]


def run_worker(settings: Settings) -> None:
    ensure_topics(settings)
    pipeline = create_app(settings)
    worker = faust.Worker(pipeline.app, loglevel=settings.log_level.upper(),
                          redirect_stdouts=False)
    worker.execute_from_commandline()
