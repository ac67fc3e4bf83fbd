"""Child processes of ``orderflow dev`` (and of the tests that run the stack):
start them so they cannot outlive their parent, wait for readiness over HTTP,
stop them cleanly.

A child is started in its own process group with PR_SET_PDEATHSIG, so even a
SIGKILL of the parent takes it down: the stack never leaves orphans.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from orderflow.certs import client_context

__all__ = ["Child", "ProcessHost", "orderflow_command", "wait_http_ok"]

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def orderflow_command(*args: str) -> list[str]:
    """The argv that runs ``orderflow <args>`` with this interpreter."""
    # -P: never put the working directory on sys.path (the repo root holds
    # folders named like well-known packages).
    return [sys.executable, "-P", "-m", "orderflow.cli", *args]


@dataclass(frozen=True)
class ProcessHost:
    """A host a process runs on: its address, and how a process is started there
    (e.g. ``ip netns exec <namespace>`` for a network namespace; nothing for this machine)."""

    address: str
    prefix: tuple[str, ...] = ()


class Child:
    """One child process with its output in a log file."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._terminated = False  # a second SIGTERM can cut a clean stop short
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            list(argv), env=dict(env), stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive():
            os.killpg(self.process.pid, signum)

    def terminate(self) -> None:
        """Ask the process to stop (SIGTERM) without waiting; ``stop`` then waits."""
        if not self._terminated:
            self._terminated = True
            self.signal(signal.SIGTERM)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM (once), wait up to ``timeout``, then SIGKILL. Returns the exit code."""
        self.terminate()
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            code = self.process.wait()
        self._log.close()
        return code

    def tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def wait_http_ok(url: str, child: Child | None, timeout: float, ca_file: Path | None = None) -> None:
    """Wait until GET ``url`` answers 200 (https: verified, trusting ``ca_file`` too); fail early if ``child``
    exits."""
    context = client_context(ca_file) if url.startswith("https:") else None
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if child is not None and not child.alive():
            raise RuntimeError(f"{child.name} exited with {child.process.returncode}:\n{child.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as resp:  # noqa: S310 - our own loopback URL
                if resp.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout:.0f}s ({last})")
