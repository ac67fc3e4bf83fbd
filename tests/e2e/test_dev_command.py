"""`orderflow dev`, the README's first command after the install: it brings
up broker, topics, payment simulator, worker and gateway, says where they
listen, serves an order end to end, and on SIGINT or SIGTERM stops every
process.

SIGINT and SIGTERM reach the same handler once the stack runs, so the full
run is paid once (with SIGINT). Where they used to differ is while the
stack is still starting: SIGINT raised KeyboardInterrupt and the cleanup
ran, SIGTERM killed the command outright and left the broker (its own
session, no parent-death signal) running. The second test sends SIGTERM in
that window, as soon as the broker is up, which costs a broker start only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from support.http import authorize, get, post_json
from support.waiting import eventually

from orderflow.ports import free_port, free_port_run

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


def is_broker(pid: int) -> bool:
    try:
        return b"kafka.Kafka" in (Path("/proc") / str(pid) / "cmdline").read_bytes()
    except OSError:
        return False


def dev_environment(tmp_path: Path, gateway_port: int) -> dict[str, str]:
    """What a user's shell beside ``orderflow dev`` in ``tmp_path`` would hold."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERFLOW_")}
    env.update(ORDERFLOW_RUN_DIR=str(tmp_path), ORDERFLOW_JAR_CACHE=str(REPO_ROOT / "run"),
               ORDERFLOW_BROKER_PORT=str(free_port_run(2)), ORDERFLOW_WORKER_PORT=str(free_port()),
               ORDERFLOW_GATEWAY_PORT=str(gateway_port), ORDERFLOW_PAYMENT_SIM_PORT=str(free_port()))
    return env


def start_dev(tmp_path: Path, gateway_port: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``orderflow dev`` in ``tmp_path`` on free ports, output to ``dev.out``."""
    env = env or dev_environment(tmp_path, gateway_port)
    with (tmp_path / "dev.out").open("wb") as out:
        return subprocess.Popen([sys.executable, "-P", "-m", "orderflow.cli", "dev"], env=env,
                                stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)


def orderflow(env: dict[str, str], cwd: Path, *args: str) -> str:
    """An ``orderflow`` command from the same shell; its output (it must succeed)."""
    done = subprocess.run([sys.executable, "-P", "-m", "orderflow.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def await_output(dev: subprocess.Popen[bytes], tmp_path: Path, text: str, timeout: float) -> None:
    """Wait until ``dev`` prints ``text``; fail with its output if it ends first."""
    def printed() -> bool:
        output = (tmp_path / "dev.out").read_text(errors="replace")
        if dev.poll() is not None and text not in output:
            pytest.fail(f"orderflow dev ended ({dev.returncode}) before printing {text!r}:\n{output}")
        return text in output

    eventually(printed, timeout=timeout, what=f"orderflow dev printing {text!r}")


def stop_and_check_no_orphan(dev: subprocess.Popen[bytes], signum: int) -> int:
    """Send ``signum``; the command ends within a minute and takes every child with it."""
    children = descendants(dev.pid)
    started = time.monotonic()
    dev.send_signal(signum)
    code = dev.wait(60)
    assert time.monotonic() - started < 60
    eventually(lambda: not any(alive(p) for p in children), timeout=10,
               what=f"no orphan left of {sorted(p for p in children if alive(p))}")
    return code


def test_dev_serves_an_order_and_stops_everything_on_sigint(tmp_path: Path) -> None:
    gateway = free_port()
    env = dev_environment(tmp_path, gateway)
    dev = start_dev(tmp_path, gateway, env)
    try:
        await_output(dev, tmp_path, "Ctrl-C stops everything", timeout=180)
        printed = (tmp_path / "dev.out").read_text()
        base = f"https://127.0.0.1:{gateway}"  # HTTPS by default, by a local CA it prints
        assert base in printed and "Kafka" in printed
        ca = tmp_path / "tls" / "ca.pem"
        assert f"--cacert {ca}" in printed
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            urllib.request.urlopen(f"{base}/healthz", timeout=10)  # noqa: S310 - not trusting the CA: refused
        # the operator token it prints, as the README's walk-through uses it
        token = next(line.removeprefix("export TOKEN=") for line in printed.splitlines()
                     if line.startswith("export TOKEN="))
        authorize(base, token, ca)
        assert post_json(f"{base}/api/v1/orders", {}, token=None).status == 401
        reply = post_json(f"{base}/api/v1/orders", {"customerId": "c1", "paymentMethodId": "pm_1",
                                                    "items": [{"productId": "p1", "quantity": 2}]})
        assert reply.status == 202
        order = get(f"{base}/api/v1/orders/{reply.json()['orderId']}?waitWhileStatus=pending&timeout=20").json()
        assert order["status"] == "rejected"  # p1 has no stock in a fresh stack
        # Kafka is secured (SASL_SSL, ACLs), and the operator's commands of the walk-through still just work
        assert "SASL_SSL" in printed
        key = orderflow(env, tmp_path, "api-key", "issue", "partner shop", "--per-hour", "500").strip().splitlines()[-1]
        assert key and "partner shop" in orderflow(env, tmp_path, "api-key", "list")
        assert len(descendants(dev.pid)) >= 4  # broker, payment simulator, worker, gateway
        assert stop_and_check_no_orphan(dev, signal.SIGINT) == 0
    finally:
        if dev.poll() is None:
            dev.kill()


def test_dev_stopped_by_sigterm_while_starting_leaves_no_orphan(tmp_path: Path) -> None:
    dev = start_dev(tmp_path, free_port())
    try:
        await_output(dev, tmp_path, "Kafka ready", timeout=180)
        assert any(is_broker(p) for p in descendants(dev.pid))
        stop_and_check_no_orphan(dev, signal.SIGTERM)
        assert "Kafka stopped" in (tmp_path / "dev.out").read_text()
    finally:
        if dev.poll() is None:
            dev.kill()
