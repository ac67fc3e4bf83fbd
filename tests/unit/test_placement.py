"""A stack whose workers and gateway run on hosts of their own: each worker at its host's
address (the same port on every host), started through the host's prefix, the gateway's
address in every URL the stack hands out."""

from __future__ import annotations

from pathlib import Path

from orderflow.processes import ProcessHost
from orderflow.settings import Settings
from orderflow.stack import DevStack, Placement


def test_each_worker_and_the_gateway_are_reached_at_their_own_hosts_address(tmp_path: Path) -> None:
    workers = [ProcessHost(f"10.77.0.{i}", ("ip", "netns", "exec", f"w{i}")) for i in (11, 12)]
    gateway = ProcessHost("10.77.0.20", ("ip", "netns", "exec", "gw"))
    stack = DevStack(Settings(run_dir=tmp_path, local_tls=False, worker_port=6066, gateway_port=8080), workers=2,
                     payment_simulator=False, placement=Placement(workers=workers, gateway=gateway))
    assert [stack.worker_url(i) for i in (0, 1)] == ["http://10.77.0.11:6066", "http://10.77.0.12:6066"]
    assert stack.gateway_url == "http://10.77.0.20:8080"
    assert stack.environment()["ORDERFLOW_WORKER_URLS"] == "http://10.77.0.11:6066,http://10.77.0.12:6066"
    assert stack._prefix(1) == ["ip", "netns", "exec", "w12"] and stack._prefix(None)[-1] == "gw"


def test_without_a_placement_every_worker_is_on_this_machine_at_a_port_of_its_own(tmp_path: Path) -> None:
    stack = DevStack(Settings(run_dir=tmp_path, local_tls=False, worker_port=7000), workers=2, payment_simulator=False)
    assert [stack.worker_url(i) for i in (0, 1)] == ["http://127.0.0.1:7000", "http://127.0.0.1:7001"]
    assert stack._prefix(0) == []
