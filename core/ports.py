"""Free loopback ports for the processes of a local stack (benchmark and tests)."""

from __future__ import annotations

import socket

__all__ = ["free_port", "free_port_run"]


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port_run(count: int) -> int:
    """The first of ``count`` consecutive free ports."""
    for _ in range(200):
        base = free_port()
        if base + count < 65535 and all(_is_free(base + i) for i in range(count)):
            return base
    raise RuntimeError(f"no run of {count} free ports")
