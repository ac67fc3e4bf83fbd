"""A worker keeps its local tables only if its last run stopped cleanly, and\nits log level is the one it was given."""

from __future__ import annotations

import logging
from pathlib import Path

import faust

from orderflow.agents.worker import CLEAN_STOP_MARK, discard_state_after_crash, new_worker


def tables_in(data_dir: Path) -> Path:
    table = data_dir / "v1" / "tables" / "orders.db"
    table.mkdir(parents=True)
    (table / "000001.log").write_bytes(b"rows")
    return table


def test_state_left_by_a_killed_worker_is_discarded(tmp_path: Path) -> None:
    table = tables_in(tmp_path / "data")
    assert discard_state_after_crash(tmp_path / "data") is True
    assert not table.exists()


def test_state_left_by_a_clean_stop_is_kept_and_the_mark_consumed(tmp_path: Path) -> None:
    table = tables_in(tmp_path / "data")
    (tmp_path / "data" / CLEAN_STOP_MARK).touch()
    assert discard_state_after_crash(tmp_path / "data") is False
    assert (table / "000001.log").read_bytes() == b"rows"
    # the mark is one-shot: a kill during this run must not find it
    assert not (tmp_path / "data" / CLEAN_STOP_MARK).exists()


def test_a_first_start_has_nothing_to_discard(tmp_path: Path) -> None:
    assert discard_state_after_crash(tmp_path / "absent") is False
    (tmp_path / "empty").mkdir()
    assert discard_state_after_crash(tmp_path / "empty") is False



def test_a_worker_at_warning_keeps_the_root_logger_at_warning() -> None:
    app = faust.App("log-level-test", web_enabled=False)
    faust_logger, ours = logging.Logger("faust", logging.WARNING), logging.Logger("ours", logging.WARNING)
    for logger in (faust_logger, ours):
        logger.addHandler(logging.NullHandler())
    faust.Worker(app, loglevel="WARNING", redirect_stdouts=False).on_setup_root_logger(faust_logger, logging.WARNING)
    new_worker(app, "warning").on_setup_root_logger(ours, logging.WARNING)
    # Faust's own sets the logger to DEBUG behind a WARNING handler; ours leaves it alone
    assert (faust_logger.level, ours.level) == (logging.DEBUG, logging.WARNING)
