"""A worker's log level is the one it was given."""

from __future__ import annotations

import logging

import faust

from orderflow.agents.worker import new_worker
from orderflow.settings import Settings


def test_a_worker_at_warning_keeps_the_root_logger_at_warning() -> None:
    app = faust.App("log-level-test", web_enabled=False)
    faust_logger, ours = logging.Logger("faust", logging.WARNING), logging.Logger("ours", logging.WARNING)
    for logger in (faust_logger, ours):
        logger.addHandler(logging.NullHandler())
    faust.Worker(app, loglevel="WARNING", redirect_stdouts=False).on_setup_root_logger(faust_logger, logging.WARNING)
    new_worker(app, Settings(_env_file=None, log_level="warning")).on_setup_root_logger(ours, logging.WARNING)
    # Faust's own sets the logger to DEBUG behind a WARNING handler; ours leaves it alone
    assert (faust_logger.level, ours.level) == (logging.DEBUG, logging.WARNING)
