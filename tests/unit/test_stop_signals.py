"""Ctrl-C and SIGTERM stop a command that starts processes the same way,
whether it is still starting or already running (``orderflow dev``,
``orderflow broker``)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import pytest

from orderflow.cli import StopRequested, StopSignals


@pytest.fixture(autouse=True)
def restore_handlers() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_starting_interrupts_the_start(signum: int) -> None:
    signals = StopSignals()
    with pytest.raises(StopRequested):
        signal.raise_signal(signum)
    # a second one, arriving while what started is being stopped, only records
    signals.stop_raising()
    signal.raise_signal(signal.SIGTERM)
    assert signals.received == [signum, signal.SIGTERM]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_once_running_ends_the_wait(signum: int) -> None:
    signals = StopSignals()
    threading.Timer(0.1, os.kill, (os.getpid(), signum)).start()
    assert signals.wait() == signum


def test_the_wait_also_ends_when_the_check_says_so() -> None:
    assert StopSignals().wait(extra_check=lambda: True) == 0
