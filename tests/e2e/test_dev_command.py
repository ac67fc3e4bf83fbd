"""`orderflow dev`, the README's first command after the install: it brings
up broker, topics, payment simulator, worker and gateway, says where they
listen, serves an order end to end, and on SIGINT stops every process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.http import get, post_json
from orderflow.ports import free_port, free_port_run
from support.waiting import eventually

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_dev_serves_an_order_and_stops_everything_on_sigint(tmp_path: Path) -> None:
    gateway = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERFLOW_")}
    env.update(ORDERFLOW_RUN_DIR=str(tmp_path), ORDERFLOW_JAR_CACHE=str(REPO_ROOT / "run"),
               ORDERFLOW_BROKER_PORT=str(free_port_run(2)), ORDERFLOW_WORKER_PORT=str(free_port()),
               ORDERFLOW_GATEWAY_PORT=str(gateway), ORDERFLOW_PAYMENT_SIM_PORT=str(free_port()))
    out = (tmp_path / "dev.out").open("wb")
    dev = subprocess.Popen([sys.executable, "-P", "-m", "orderflow.cli", "dev"], env=env,
                           stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        eventually(lambda: b"Ctrl-C stops everything" in (tmp_path / "dev.out").read_bytes() or
                   (dev.poll() is not None and pytest.fail((tmp_path / "dev.out").read_text())),
                   timeout=180, what="orderflow dev ready")
        printed = (tmp_path / "dev.out").read_text()
        assert f"http://127.0.0.1:{gateway}" in printed and "Kafka" in printed
        base = f"http://127.0.0.1:{gateway}"
        reply = post_json(f"{base}/api/v1/orders", {"customerId": "c1", "paymentMethodId": "pm_1",
                                                    "items": [{"productId": "p1", "quantity": 2}]})
        assert reply.status == 202
        order = get(f"{base}/api/v1/orders/{reply.json()['orderId']}?waitWhileStatus=pending&timeout=20").json()
        assert order["status"] == "rejected"  # p1 has no stock in a fresh stack
        children = descendants(dev.pid)
        assert len(children) >= 4  # broker, payment simulator, worker, gateway
        started = time.monotonic()
        dev.send_signal(signal.SIGINT)
        assert dev.wait(60) == 0
        assert time.monotonic() - started < 60
        eventually(lambda: not any(alive(p) for p in children), timeout=10, what="no orphan left")
    finally:
        if dev.poll() is None:
            dev.kill()
        out.close()
