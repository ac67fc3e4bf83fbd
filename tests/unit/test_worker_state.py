"""A worker keeps its local tables only if its last run stopped cleanly."""

from __future__ import annotations

from pathlib import Path

from orderflow.agents.worker import CLEAN_STOP_MARK, discard_state_after_crash


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
