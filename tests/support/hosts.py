"""Hosts of their own on one machine, for the multi-host test: a network
namespace per host, each with one address on a bridge in the machine's own
namespace (where the test, the payment and carrier simulators run), made and
removed by ``HostNetwork`` itself (root and ``ip`` needed).

Processes start on a host through ``ip netns exec <namespace>``; a host is
taken off the network by setting its link on the bridge down (its processes
keep running, unreachable, as behind a pulled cable), and put back by
setting it up. Without namespaces (no root, no ``ip``), ``HostNetwork`` hands
out loopback addresses 127.0.0.x instead: the same addresses in every
setting, but nothing can be taken off the network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field

from orderflow.processes import ProcessHost

__all__ = ["HostNetwork", "namespaces_available"]

SUBNET = "10.77.0"
MACHINE = f"{SUBNET}.1"  # this machine's own address on the bridge
IP = shutil.which("ip") or "/usr/sbin/ip"


def namespaces_available() -> bool:
    return os.geteuid() == 0 and os.access(IP, os.X_OK)


def _ip(*args: str) -> None:
    subprocess.run([IP, *args], check=True, capture_output=True, timeout=30)


@dataclass
class HostNetwork:
    """Hosts by name (``b1``, ``w1``, ``gw``...), each with its address and how to start a process there."""

    use_namespaces: bool = field(default_factory=namespaces_available)
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:4])
    hosts: dict[str, ProcessHost] = field(default_factory=dict)
    _links: dict[str, str] = field(default_factory=dict)
    _bridge: str | None = None

    @property
    def machine(self) -> str:
        """The address this machine's own processes (the test, the simulators) listen on."""
        return MACHINE if self.use_namespaces else "127.0.0.1"

    def _ensure_bridge(self) -> str:
        if self._bridge is None:
            bridge = f"ofb{self.tag}"
            _ip("link", "add", bridge, "type", "bridge")
            self._bridge = bridge
            _ip("addr", "add", f"{MACHINE}/24", "dev", bridge)
            _ip("link", "set", bridge, "up")
        return self._bridge

    def add(self, name: str) -> ProcessHost:
        number = len(self.hosts) + 10
        if not self.use_namespaces:
            host = ProcessHost(f"127.0.0.{number}")
            self.hosts[name] = host
            return host
        bridge = self._ensure_bridge()
        namespace, outside = f"of{self.tag}-{name}", f"ofv{self.tag}{number}"
        _ip("netns", "add", namespace)
        host = ProcessHost(f"{SUBNET}.{number}", (IP, "netns", "exec", namespace))
        self.hosts[name] = host
        _ip("link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        self._links[name] = outside
        _ip("link", "set", outside, "master", bridge)
        _ip("link", "set", outside, "up")
        _ip("-n", namespace, "addr", "add", f"{host.address}/24", "dev", "eth0")
        _ip("-n", namespace, "link", "set", "eth0", "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        return host

    def offline(self, name: str) -> None:
        """Cut the host off the network (its processes keep running)."""
        if not self.use_namespaces:
            raise RuntimeError("a host on a loopback address cannot be taken off the network")
        _ip("link", "set", self._links[name], "down")

    def online(self, name: str) -> None:
        _ip("link", "set", self._links[name], "up")

    def close(self) -> None:
        if not self.use_namespaces:
            return
        for name in self.hosts:
            subprocess.run([IP, "netns", "delete", f"of{self.tag}-{name}"], capture_output=True, timeout=30)
        if self._bridge is not None:
            subprocess.run([IP, "link", "delete", self._bridge], capture_output=True, timeout=30)
