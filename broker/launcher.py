"""A local Apache Kafka cluster (KRaft, combined broker+controller nodes) run as child JVMs.

:class:`LocalKafka` owns everything under its ``run_dir`` except the jars
(those are :func:`orderflow.broker.runtime.ensure_jars`'s, in ``kafka/<version>/``)::

    .lock                     flock held while this run_dir's nodes run (one LocalKafka per run_dir)
    cluster.json              cluster id and node count, fixed when storage is first formatted
    log4j2.properties         the packaged logging config, rewritten at every start
    node-<id>/server.properties   (mode 0600: on a secured cluster it holds the admin's password)
    node-<id>/data/           log.dirs (the metadata log lives here too)
    node-<id>/server.log      the JVM's stdout+stderr, appended across restarts
    node-<id>/kafka.pid       pid of the running JVM

Storage is formatted only once, so ``stop()`` then ``start()`` keeps all data;
``wipe()`` (or ``start(fresh=True)``) throws it away. A node is "up" when its own
listener answers an AdminClient metadata request that lists every expected broker
(and, for ``start()``, a live leader for every partition it knows).
Each JVM runs in its own process group; ``stop()`` (also registered with ``atexit``)
terminates them, with SIGKILL as the fallback.

By default every node listens on 127.0.0.1. With ``hosts``, node *i* runs on
host *i*: it listens and advertises that host's address (the same ports on
every host) and is started through the host's command prefix, e.g.
``ip netns exec <namespace>`` for a network namespace of its own.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ClusterMetadata

from orderflow.broker.runtime import (
    ensure_jars,
    java_executable,
    kafka_version,
    log4j_config,
)
from orderflow.certs import write_private
from orderflow.processes import ProcessHost

__all__ = ["BrokerSecurity", "KafkaStartError", "LocalKafka"]

log = logging.getLogger(__name__)
# librdkafka complains loudly while a node is still booting; route it here, silent by default.
_rdkafka_log = logging.getLogger(__name__ + ".rdkafka")
_rdkafka_log.addHandler(logging.NullHandler())
_rdkafka_log.propagate = False

HOST = "127.0.0.1"
_HEAP_RE = re.compile(r"^\d+[kKmMgG]?$")
_PROBE_INTERVAL_S = 0.25
_LOG_TAIL_LINES = 40


class KafkaStartError(RuntimeError):
    """A local Kafka node failed to start or did not become ready in time."""


@dataclass(frozen=True)
class BrokerSecurity:
    """A secured cluster: clients on SASL_SSL with SCRAM-SHA-512, the controllers'
    listener on TLS with client certificates, KRaft's StandardAuthorizer refusing
    whatever no ACL allows.

    ``users`` (name to password) are the SCRAM users created when the storage
    is formatted (so only on a fresh run directory); ``admin`` is one of them,
    the super user the brokers talk to each other as and the launcher probes
    with. ``keystore`` holds the nodes' private key and certificate in one
    PEM file (Kafka's PEM key store; for 127.0.0.1, usable as server and
    client, common name ``node_name``) and ``ca_file`` is the CA that signed
    it and that clients trust.
    """

    ca_file: Path
    keystore: Path
    users: Mapping[str, str] = field(repr=False)
    admin: str = "admin"
    node_name: str = "kafka-node"
    mechanism: str = "SCRAM-SHA-512"

    def __post_init__(self) -> None:
        if self.admin not in self.users:
            raise ValueError(f"the admin user {self.admin!r} must be one of the SCRAM users")
        for name, password in self.users.items():
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or not re.fullmatch(r"[A-Za-z0-9_.~-]+", password):
                raise ValueError(f"SCRAM user {name!r}: names and passwords are URL-safe characters only")

    def admin_config(self) -> dict[str, Any]:
        """The librdkafka settings of the admin user (without bootstrap servers)."""
        return {"security.protocol": "SASL_SSL", "sasl.mechanisms": self.mechanism, "sasl.username": self.admin,
                "sasl.password": self.users[self.admin], "ssl.ca.location": str(self.ca_file)}


@dataclass
class _Node:
    """One combined broker+controller node and its files."""

    node_id: int
    port: int
    controller_port: int
    home: Path
    host: ProcessHost = ProcessHost(HOST)
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return self.host.address

    @property
    def config_path(self) -> Path:
        return self.home / "server.properties"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def log_path(self) -> Path:
        return self.home / "server.log"

    @property
    def pid_path(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def formatted(self) -> bool:
        return (self.data_dir / "meta.properties").is_file()

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(max(0, fh.seek(0, os.SEEK_END) - 64 * 1024))
                text = fh.read().decode("utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


class LocalKafka:
    """A 1- or 3-node (any n >= 1) KRaft cluster on 127.0.0.1, data kept in ``run_dir``.

    ``port=0`` picks free ports once, at construction, so restarts keep the same
    ``bootstrap_servers``. With a fixed ``port``, node *i* (1-based) listens on
    ``port + 2*(i-1)`` and its controller on the port after that.
    ``lib_dir`` overrides the jar directory (default: ``ensure_jars(run_dir)``).
    ``security`` secures it (see :class:`BrokerSecurity`); without it every
    listener is plain and anyone may do anything.
    ``startup_seconds`` is the wall time of the last ``start()`` (formatting, launch,
    readiness), excluding jar resolution.
    """

    def __init__(
        self,
        run_dir: Path,
        nodes: int = 1,
        port: int = 0,
        heap: str = "512m",
        *,
        lib_dir: Path | None = None,
        security: BrokerSecurity | None = None,
        hosts: tuple[ProcessHost, ...] | None = None,
    ) -> None:
        if hosts is not None and len(hosts) != nodes:
            raise ValueError(f"{nodes} nodes need {nodes} hosts, not {len(hosts)}")
        if nodes < 1:
            raise ValueError(f"nodes must be >= 1, not {nodes}")
        if not 0 <= port <= 65535 - 2 * nodes:
            raise ValueError(f"port out of range: {port}")
        if not _HEAP_RE.match(heap):
            raise ValueError(f"heap must look like 512m or 1g, not {heap!r}")
        self.run_dir = Path(run_dir).resolve()
        self.heap = heap
        # absolute, as run_dir: each node runs in its own folder (make dev gives the relative run/)
        self.security = None if security is None else dataclasses.replace(
            security, ca_file=Path(security.ca_file).resolve(), keystore=Path(security.keystore).resolve())
        self.startup_seconds: float | None = None
        self._lib_dir = Path(lib_dir).resolve() if lib_dir is not None else None
        if hosts is not None:  # one node a host: the same two ports on each
            ports = [port or 9092, (port or 9092) + 1] * nodes
        else:
            ports = _free_ports(2 * nodes) if port == 0 else list(range(port, port + 2 * nodes))
        placed = hosts or (ProcessHost(HOST),) * nodes
        self._nodes = {
            i: _Node(i, ports[2 * i - 2], ports[2 * i - 1], self.run_dir / f"node-{i}", placed[i - 1])
            for i in range(1, nodes + 1)
        }
        self._atexit_registered = False
        self._lock: IO[str] | None = None

    # ----------------------------------------------------------------- properties

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"{n.address}:{n.port}" for n in self._nodes.values())

    @property
    def version(self) -> str:
        return kafka_version()

    @property
    def node_ids(self) -> list[int]:
        return list(self._nodes)

    @property
    def replication_factor(self) -> int:
        return min(3, len(self._nodes))

    @property
    def min_insync_replicas(self) -> int:
        return max(1, self.replication_factor - 1)

    @property
    def running(self) -> bool:
        return any(n.running for n in self._nodes.values())

    def node_running(self, node_id: int) -> bool:
        return self._node(node_id).running

    def log_path(self, node_id: int) -> Path:
        return self._node(node_id).log_path

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 120.0, *, fresh: bool = False) -> LocalKafka:
        """Format (first time only), launch every node, and wait until all are up."""
        if self.running:
            raise KafkaStartError(f"{self!r} is already running")
        self._acquire_lock()
        nodes = list(self._nodes.values())
        try:
            if fresh:
                self.wipe()
            lib = self._jars()
            began = time.monotonic()
            deadline = began + timeout
            self._prepare(lib, nodes, deadline)
            for node in nodes:
                self._launch(node, lib)
            self._await_up(nodes, set(self._nodes), deadline, all_led=True)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        log.info("kafka %s up at %s in %.1fs", self.version, self.bootstrap_servers, self.startup_seconds)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM every node, wait up to ``timeout`` in total, SIGKILL what is left; frees run_dir."""
        nodes = [n for n in self._nodes.values() if n.process is not None]
        for node in nodes:
            _signal_group(node, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for node in nodes:
            _wait_or_kill(node, max(0.0, deadline - time.monotonic()))
        self._release_lock()

    def kill(self, node_id: int) -> None:
        """SIGKILL one node (a crash, no controlled shutdown)."""
        node = self._node(node_id)
        if node.process is not None:
            _signal_group(node, signal.SIGKILL)
            _wait_or_kill(node, 10.0)

    def start_node(self, node_id: int, timeout: float = 120.0) -> None:
        """Restart one stopped or killed node and wait until it is back in the metadata."""
        node = self._node(node_id)
        if node.running:
            raise KafkaStartError(f"node {node_id} is already running")
        self._acquire_lock()
        deadline = time.monotonic() + timeout
        try:
            lib = self._jars()
            self._prepare(lib, [node], deadline)
            self._launch(node, lib)
            expected = {n.node_id for n in self._nodes.values() if n.running}
            self._await_up([node], expected, deadline)
        except BaseException:
            _signal_group(node, signal.SIGKILL)
            if node.process is not None:
                _wait_or_kill(node, 10.0)
            if not self.running:
                self._release_lock()
            raise

    def wipe(self) -> None:
        """Delete all node data, logs and the cluster id (the jars are kept)."""
        if self.running:
            raise KafkaStartError("stop the cluster before wiping it")
        held = self._lock is not None
        self._acquire_lock()
        try:
            for node in self._nodes.values():
                _check_not_stale(node)
                shutil.rmtree(node.home, ignore_errors=True)
            (self.run_dir / "cluster.json").unlink(missing_ok=True)
        finally:
            if not held:
                self._release_lock()

    def __enter__(self) -> LocalKafka:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (
            f"LocalKafka(run_dir={str(self.run_dir)!r}, nodes={len(self._nodes)}, "
            f"bootstrap={self.bootstrap_servers!r})"
        )

    # ------------------------------------------------------------------- internals

    def _node(self, node_id: int) -> _Node:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise ValueError(f"no node {node_id}; nodes are {self.node_ids}") from None

    def _jars(self) -> Path:
        return self._lib_dir if self._lib_dir is not None else ensure_jars(self.run_dir)

    def _log4j_path(self) -> Path:
        return self.run_dir / "log4j2.properties"

    def _prepare(self, lib: Path, nodes: list[_Node], deadline: float) -> None:
        """Write configs and format whichever of ``nodes`` has no storage yet."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._log4j_path().write_text(log4j_config(), encoding="utf-8")
        cluster_id = self._cluster_id()
        for node in nodes:
            if node.process is not None and not node.running:
                _wait_or_kill(node, 0.0)  # reap a node that died on its own
            _check_not_stale(node)
            node.data_dir.mkdir(parents=True, exist_ok=True)
            write_private(node.config_path, self._server_properties(node))  # may hold the admin's password
        _format_storage(self._java_cmd(lib), [n for n in nodes if not n.formatted], cluster_id, deadline,
                        self._scram_arguments())

    def _scram_arguments(self) -> list[str]:
        """``kafka-storage format``'s arguments creating the SCRAM users (KIP-900)."""
        sec = self.security
        if sec is None:
            return []
        return [arg for name, password in sec.users.items()
                for arg in ("--add-scram", f"{sec.mechanism}=[name={name},password={password}]")]

    def _listener_properties(self, node: _Node) -> dict[str, object]:
        if self.security is None:
            return {
                "listeners": f"PLAINTEXT://{node.address}:{node.port},CONTROLLER://{node.address}:"
                             f"{node.controller_port}",
                "advertised.listeners": f"PLAINTEXT://{node.address}:{node.port}",
                "inter.broker.listener.name": "PLAINTEXT",
                "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            }
        sec = self.security
        scram = sec.mechanism.lower()
        admin_login = (f'org.apache.kafka.common.security.scram.ScramLoginModule required '
                       f'username="{sec.admin}" password="{sec.users[sec.admin]}";')
        return {
            "listeners": f"CLIENT://{node.address}:{node.port},CONTROLLER://{node.address}:{node.controller_port}",
            "advertised.listeners": f"CLIENT://{node.address}:{node.port}",
            # the brokers replicate over the clients' listener, as the admin user
            "inter.broker.listener.name": "CLIENT",
            "listener.security.protocol.map": "CLIENT:SASL_SSL,CONTROLLER:SSL",
            "sasl.enabled.mechanisms": sec.mechanism,
            "sasl.mechanism.inter.broker.protocol": sec.mechanism,
            f"listener.name.client.{scram}.sasl.jaas.config": admin_login,
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": sec.keystore,
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": sec.ca_file,
            # controllers know each other and the brokers by their certificates
            "listener.name.controller.ssl.client.auth": "required",
            "ssl.principal.mapping.rules": "RULE:^CN=([^,]+),.*$/$1/,DEFAULT",
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            "super.users": f"User:{sec.admin};User:{sec.node_name}",
        }

    def _cluster_id(self) -> str:
        """The id stored in ``cluster.json``, created on first use."""
        path = self.run_dir / "cluster.json"
        if path.is_file():
            state = json.loads(path.read_text(encoding="utf-8"))
            if state["nodes"] != len(self._nodes):
                raise KafkaStartError(
                    f"{self.run_dir} holds a {state['nodes']}-node cluster, not {len(self._nodes)};"
                    " wipe() it first"
                )
            if state.get("secured", False) != (self.security is not None):
                # the SCRAM users exist only if the storage was formatted with them
                was = "secured" if state.get("secured") else "plain"
                raise KafkaStartError(f"{self.run_dir} holds a {was} cluster; wipe() it (a fresh start) to change that")
            return str(state["cluster_id"])
        cluster_id = _new_cluster_id()
        state = {"cluster_id": cluster_id, "nodes": len(self._nodes), "secured": self.security is not None}
        path.write_text(json.dumps(state) + "\n", encoding="utf-8")
        return cluster_id

    def _server_properties(self, node: _Node) -> str:
        rf, min_isr = self.replication_factor, self.min_insync_replicas
        voters = ",".join(f"{n.node_id}@{n.address}:{n.controller_port}" for n in self._nodes.values())
        props = {
            "process.roles": "broker,controller",
            "node.id": node.node_id,
            "controller.quorum.voters": voters,
            "controller.listener.names": "CONTROLLER",
            **self._listener_properties(node),
            "log.dirs": node.data_dir,
            "num.partitions": 1,
            "default.replication.factor": rf,
            "min.insync.replicas": min_isr,
            "offsets.topic.replication.factor": rf,
            "transaction.state.log.replication.factor": rf,
            "transaction.state.log.min.isr": min_isr,
            "share.coordinator.state.topic.replication.factor": rf,
            "share.coordinator.state.topic.min.isr": min_isr,
            "group.initial.rebalance.delay.ms": 0,
            "auto.create.topics.enable": "false",
            # stop() ends all nodes at once: a broker still waiting for the controller to
            # approve its controlled shutdown after the other voters left waits minutes.
            "controlled.shutdown.enable": "true" if len(self._nodes) == 1 else "false",
        }
        header = "# Generated by orderflow.broker.launcher at every start; edits are overwritten.\n"
        return header + "".join(f"{key}={value}\n" for key, value in props.items())

    def _java_cmd(self, lib: Path) -> list[str]:
        """``java`` with heap, logging and class path, ready for a main class."""
        return [
            java_executable(),
            f"-Xmx{self.heap}",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self._log4j_path()}",
            "-cp",
            str(lib / "*"),
        ]

    def _launch(self, node: _Node, lib: Path) -> None:
        cmd = [*node.host.prefix, *self._java_cmd(lib), f"-Dkafka.logs.dir={node.home}", "kafka.Kafka",
               str(node.config_path)]
        self._register_atexit()
        with node.log_path.open("ab") as out:
            out.write(f"---- orderflow: starting node {node.node_id} at {time.ctime()} ----\n".encode())
            out.flush()
            node.process = subprocess.Popen(
                cmd,
                cwd=node.home,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        node.pid_path.write_text(f"{node.process.pid}\n", encoding="utf-8")
        log.debug("kafka node %d started as pid %d", node.node_id, node.process.pid)

    def _await_up(
        self, nodes: Iterable[_Node], expected: set[int], deadline: float, *, all_led: bool = False
    ) -> None:
        """Wait until each node answers metadata itself, listing every ``expected`` broker.

        With ``all_led``, every partition it reports must also have a live leader
        (after a restart, existing topics are not usable before that).
        """
        pending = {n.node_id: n for n in nodes}
        seen: dict[int, str] = {}
        while pending:
            for node in list(pending.values()):
                _check_alive(node)
                metadata = _probe(node, max(0.2, min(2.0, deadline - time.monotonic())), self.security)
                if isinstance(metadata, str):
                    seen[node.node_id] = metadata
                    continue
                brokers = set(metadata.brokers)
                leaderless = _leaderless(metadata) if all_led else []
                seen[node.node_id] = f"brokers {sorted(brokers)}, leaderless {leaderless[:5]}"
                if expected <= brokers and not leaderless:
                    del pending[node.node_id]
            if pending and time.monotonic() >= deadline:
                first = next(iter(pending.values()))
                raise KafkaStartError(
                    f"kafka node(s) {sorted(pending)} not ready before the deadline "
                    f"(expected brokers {sorted(expected)}; seen {seen}); "
                    f"{first.log_path} ends with:\n{first.log_tail()}"
                )
            if pending:
                time.sleep(_PROBE_INTERVAL_S)

    def _acquire_lock(self) -> None:
        """Take ``run_dir/.lock`` so no other LocalKafka (in any process) uses this run_dir."""
        if self._lock is not None:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        fh = (self.run_dir / ".lock").open("a+", encoding="utf-8")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "?"
            fh.close()
            raise KafkaStartError(
                f"{self.run_dir} is in use by another LocalKafka (pid {holder}); "
                "stop it, or give this one its own run_dir"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._lock = fh

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file drops the flock
            self._lock = None

    def _register_atexit(self) -> None:
        if not self._atexit_registered:
            atexit.register(self._stop_at_exit)
            self._atexit_registered = True

    def _stop_at_exit(self) -> None:
        try:
            self.stop(timeout=15.0)
        except Exception:  # noqa: BLE001 - last resort at interpreter exit
            for node in self._nodes.values():
                _signal_group(node, signal.SIGKILL)


# ---------------------------------------------------------------------- helpers


def _free_ports(count: int) -> list[int]:
    """``count`` distinct ports that were free a moment ago (held open together)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def _new_cluster_id() -> str:
    """A Kafka cluster id: url-safe base64 of a random UUID, not starting with '-'."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")
        if not cluster_id.startswith("-"):
            return cluster_id


def _format_storage(java_cmd: list[str], nodes: list[_Node], cluster_id: str, deadline: float,
                    extra: list[str]) -> None:
    """Run ``kafka-storage format`` for every node in parallel."""
    runs = [
        subprocess.Popen(
            [*java_cmd, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(n.config_path), *extra],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for n in nodes
    ]
    failures = []
    for node, run in zip(nodes, runs, strict=True):
        try:
            out, _ = run.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            run.kill()
            out, _ = run.communicate()
        if run.returncode != 0:
            output = out.decode(errors="replace")[-4000:]
            failures.append(f"node {node.node_id} (exit {run.returncode}):\n{output}")
    if failures:
        raise KafkaStartError("formatting Kafka storage failed for " + "\n".join(failures))


def _probe(node: _Node, timeout: float, security: BrokerSecurity | None) -> ClusterMetadata | str:
    """A metadata response from ``node``'s own listener, or why there is none."""
    config: dict[str, Any] = {"bootstrap.servers": f"{node.address}:{node.port}", "logger": _rdkafka_log}
    if security is not None:
        config |= security.admin_config()
    admin = AdminClient(config)
    try:
        return admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        return f"no metadata from {node.address}:{node.port}: {exc.args[0].str() if exc.args else exc}"


def _leaderless(metadata: ClusterMetadata) -> list[str]:
    """``topic-partition`` names whose leader is not a live broker."""
    return [
        f"{topic.topic}-{partition.id}"
        for topic in metadata.topics.values()
        for partition in topic.partitions.values()
        if partition.leader not in metadata.brokers
    ]


def _check_alive(node: _Node) -> None:
    if node.process is None or node.process.poll() is not None:
        code = None if node.process is None else node.process.returncode
        raise KafkaStartError(
            f"kafka node {node.node_id} exited (code {code}) while starting; "
            f"{node.log_path} ends with:\n{node.log_tail()}"
        )


def _check_not_stale(node: _Node) -> None:
    """Refuse to touch a node whose pid file names a live JVM we no longer control."""
    if node.running or not node.pid_path.is_file():
        return
    try:
        pid = int(node.pid_path.read_text(encoding="utf-8").strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        node.pid_path.unlink(missing_ok=True)
        return
    if str(node.config_path).encode() in cmdline:
        raise KafkaStartError(
            f"kafka node {node.node_id} of {node.home.parent} is still running as pid {pid}, "
            f"left over from an earlier session; stop it first (kill {pid})"
        )
    node.pid_path.unlink(missing_ok=True)


def _signal_group(node: _Node, sig: signal.Signals) -> None:
    """Signal the node's process group (it leads its own session), if still running."""
    if node.process is None or node.process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(node.process.pid, sig)


def _wait_or_kill(node: _Node, timeout: float) -> None:
    """Reap the node's JVM, SIGKILLing it after ``timeout`` seconds."""
    if node.process is None:
        return
    try:
        node.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log.warning("kafka node %d ignored SIGTERM for %.0fs; killing it", node.node_id, timeout)
        _signal_group(node, signal.SIGKILL)
        node.process.wait()
    node.process = None
    node.pid_path.unlink(missing_ok=True)
