"""The local stack: a broker (unless one is configured), the catalog's topics,
N Faust workers and the gateway, as child processes with logs in the run
directory. ``orderflow dev`` runs it with one worker; the end-to-end tests run
it with several.

It owns the local token signing key (``orderflow.signing``, in the run
directory's ``auth/``): unless the settings name keys of their own, the
gateway verifies with its public half, and ``token()`` mints the tokens the
tests, the benchmark and ``orderflow dev``'s walk-through send; and the
payment simulator's API key (``auth/payment-api-key``), unless the settings
name one.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import SecretStr

from orderflow.certs import CA_NAME, TLS_DIR, ensure_server_cert
from orderflow.dev_kafka import broker_security, password_file, settings_as
from orderflow.kafka_acls import ADMIN, GATEWAY, OPERATOR, WORKER, apply_acls
from orderflow.kafka_client import KafkaClient
from orderflow.observability import ALERTMANAGER_FILE, ScrapeTargets, write_config
from orderflow.processes import Child, ProcessHost, orderflow_command, wait_http_ok
from orderflow.settings import Settings
from orderflow.signing import PUBLIC_NAME, DevKey, ensure_dev_key, ensure_secret, mint
from orderflow.topics import ensure_topics

if TYPE_CHECKING:
    from orderflow.broker import LocalKafka

__all__ = ["DevStack", "Placement"]

READY_TIMEOUT_S = 90.0
SIMULATOR = "payment-sim"  # the payment simulator child's name
PAYMENT_KEY_NAME = "payment-api-key"  # in the run directory's auth/: the simulator's key, when none is set
SUPERVISE_EVERY_S = 0.5


@dataclass
class Placement:
    """Which host each worker and the gateway run on (workers may be added later: append to ``workers``).
    Without one, every process runs on this machine at its own port."""

    workers: list[ProcessHost]
    gateway: ProcessHost


def _hosts(host: str) -> list[str]:
    """The names a local certificate is for: the configured host and the loopback ones."""
    return list(dict.fromkeys([host, "127.0.0.1", "localhost"]))


class DevStack:
    def __init__(self, settings: Settings, *, workers: int = 1, fresh: bool = False,
                 payment_simulator: bool = True, mail_sink: bool = True, carrier: bool = True, tls: bool | None = None,
                 echo: Callable[[str], None] = print, broker: LocalKafka | None = None,
                 observe: bool = False, alert_scale: float = 1.0, placement: Placement | None = None) -> None:
        self.placement = placement
        if placement is not None:
            settings = settings.model_copy(update={"gateway_host": placement.gateway.address})
        self.settings = settings
        self.workers = workers
        self.payment_simulator = payment_simulator
        self.mail_sink = mail_sink  # the SMTP server the notification emails go to
        self.carrier = carrier  # the carrier simulator the delivery service books shipments with
        self.fresh = fresh
        self.observe = observe  # also run Prometheus with orderflow's alert rules against the stack
        self._alert_scale = alert_scale  # the rules' `for` durations times this (a test's short waits)
        self._echo = echo
        self._kafka: LocalKafka | None = None
        self._given_broker = broker  # started (and stopped) by the caller, e.g. the benchmark, for its pid
        # on the secured local broker: the admin's settings (topics, ACLs); the stack's own are the operator's
        self._admin_settings: Settings | None = None
        self.children: list[Child] = []
        # Workers are restarted when they exit on their own, as a container
        # orchestrator would (a worker exits on purpose when it cannot go on
        # safely); those stopped by kill_worker stay down until restarted.
        self._lock = threading.RLock()
        self._held_down: set[int] = set()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self.restarts: list[tuple[str, int]] = []  # (worker, exit code) of each supervised restart
        self.signing_key: DevKey | None = None
        if self.settings.auth_enabled and self.uses_dev_key:
            self.signing_key = ensure_dev_key(self.settings.dev_key_dir)
            self.settings = self.settings.model_copy(update={"auth_public_key_file": self.signing_key.public_file})
        if self.settings.local_tls if tls is None else tls:
            self._certify()
        if payment_simulator and not self.settings.payment_api_key:
            # the simulator accepts, and the workers send, the one key kept in the run directory
            key_file = ensure_secret(self.settings.dev_key_dir / PAYMENT_KEY_NAME)
            self.settings = self.settings.model_copy(update={"payment_provider_api_key_file": key_file})

    def _certify(self) -> None:
        """HTTPS by default: a local CA (kept in the run directory) signs the gateway's, the workers' and
        the simulator's certificates, unless the settings name certificates of their own."""
        s, tls_dir = self.settings, self.settings.run_dir / TLS_DIR
        update: dict[str, object] = {"tls_ca_file": s.tls_ca_file or tls_dir / CA_NAME}
        for name, host, present in (("gateway", s.gateway_host, s.gateway_tls),
                                    ("worker", s.worker_host, s.worker_tls),
                                    ("payment_sim", s.payment_sim_host, s.payment_sim_tls)):
            if not present:
                served = ensure_server_cert(tls_dir, name.replace("_", "-"), _hosts(host))
                update |= {f"{name}_tls_cert_file": served.cert_file, f"{name}_tls_key_file": served.key_file}
        self.settings = self.settings.model_copy(update=update)

    @property
    def uses_dev_key(self) -> bool:
        """No key of the settings' own: the gateway trusts the local signing key."""
        s = self.settings
        return (s.auth_public_key_file is None or s.auth_public_key_file == s.dev_key_dir / PUBLIC_NAME) \
            and not s.auth_jwks_url and not s.auth_shared_secret.get_secret_value()

    def token(self, *scopes: str, subject: str = "orderflow-dev", ttl_s: float = 3600, now: float | None = None,
              claims: dict[str, object] | None = None) -> str:
        """A token the stack's gateway accepts, signed with the local key (``scopes``: customer,
        service, operator; a customer's subject is its customerId)."""
        if self.signing_key is None:
            raise RuntimeError("this stack verifies tokens with keys of its settings, not the local key")
        return mint(self.signing_key, self.settings, subject, scopes, ttl_s, now=now, claims=claims)

    @property
    def log_dir(self) -> Path:
        return self.settings.run_dir / "logs"

    def worker_url(self, index: int) -> str:
        scheme = "https" if self.settings.worker_tls else "http"
        host, port = self._worker_address(index)
        return f"{scheme}://{host}:{port}"

    def _worker_address(self, index: int) -> tuple[str, int]:
        if self.placement is not None:  # a host each, the same port on every one
            return self.placement.workers[index].address, self.settings.worker_port
        return self.settings.worker_host, self.settings.worker_port + index

    def _prefix(self, worker: int | None) -> list[str]:
        """How a worker (or, for None, the gateway) is started on its host."""
        if self.placement is None:
            return []
        host = self.placement.gateway if worker is None else self.placement.workers[worker]
        return list(host.prefix)

    @property
    def gateway_url(self) -> str:
        return self.settings.gateway_url

    @property
    def ca_file(self) -> Path | None:
        """The CA the servers' certificates are checked against (curl's --cacert), when they serve HTTPS."""
        return self.settings.tls_ca_file

    def start(self) -> None:
        if self._given_broker is not None:
            self._use_broker(self._given_broker)
        elif self.settings.uses_local_broker:
            self._start_broker()
        created = ensure_topics(self._admin_settings or self.settings)
        self._echo(f"topics ready ({len(created)} created) on {self.settings.kafka_servers}")
        if self._admin_settings is not None:
            count = apply_acls(self._admin_settings.kafka, self.settings.app_id)
            self._echo(f"{count} ACLs from the catalog in place")
        # Every process is launched before any is waited for: their start-ups
        # (imports, joining the group, recovery) overlap, and the workers join
        # the group together instead of one rebalance per worker.
        simulator = self._launch_payment_simulator() if self.payment_simulator else None
        # the sinks are waited for with the others: the workers only send to them once running
        sinks = []
        if self.mail_sink:
            sinks.append(self._launch_mail_sink())
        if self.carrier:
            sinks.append(self._launch_carrier())
        if self.observe and not self.settings.otlp_endpoint:
            sinks.append(self._launch_trace_sink())
        workers = [self._start_worker(i, wait=False) for i in range(self.workers)]
        gateway = self._launch_gateway()
        if simulator is not None:
            wait_http_ok(f"{self.payment_simulator_url}/readyz", simulator, READY_TIMEOUT_S, self.settings.tls_ca_file)
            self._echo(f"payment simulator ready at {self.payment_simulator_url}")
        for index, child in enumerate(workers):
            wait_http_ok(f"{self.worker_url(index)}/readyz", child, READY_TIMEOUT_S, self.settings.tls_ca_file)
            self._echo(f"worker-{index} ready at {self.worker_url(index)} (log {child.log_path})")
        for child, url in sinks:
            wait_http_ok(url, child, READY_TIMEOUT_S, None)
            self._echo(f"{child.name} ready at {url.removesuffix('/healthz')}")
        wait_http_ok(f"{self.gateway_url}/readyz", gateway, READY_TIMEOUT_S, self.settings.tls_ca_file)
        self._echo(f"gateway ready at {self.gateway_url} (log {gateway.log_path})")
        if self.observe:
            self._start_prometheus()
        self._stopping.clear()
        self._supervisor = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        self._supervisor.start()

    def _supervise(self) -> None:
        while not self._stopping.wait(SUPERVISE_EVERY_S):
            with self._lock:
                for index in range(self.workers):
                    if index in self._held_down or self._stopping.is_set():
                        continue
                    child = self.worker(index)
                    if not child.alive():
                        code = child.stop()
                        self.children.remove(child)
                        self.restarts.append((child.name, code))
                        self._echo(f"{child.name} exited ({code}); restarting it")
                        self._start_worker(index, wait=False)

    def _start_broker(self) -> None:
        from orderflow.broker import LocalKafka, ensure_jars

        security = broker_security(self.settings) if self.settings.local_kafka_security else None
        kafka = LocalKafka(self.settings.run_dir / "kafka", nodes=1, port=self.settings.broker_port,
                           heap=self.settings.broker_heap, lib_dir=ensure_jars(self.settings.jar_cache),
                           security=security)
        self._echo(f"starting Kafka {kafka.version} (KRaft) ...")
        kafka.start(fresh=self.fresh)
        self._kafka = kafka
        self._echo(f"Kafka ready in {kafka.startup_seconds:.1f}s at {kafka.bootstrap_servers}")
        self._use_broker(kafka)

    def _use_broker(self, kafka: LocalKafka) -> None:
        """Connect the stack to a started local broker: as its operator and admin when it is secured."""
        if kafka.security is None:
            self.settings = self.settings.model_copy(update={"bootstrap_servers": kafka.bootstrap_servers})
            return
        self._admin_settings = settings_as(self.settings, ADMIN, kafka.bootstrap_servers)
        self.settings = settings_as(self.settings, OPERATOR, kafka.bootstrap_servers)

    @property
    def kafka_secured(self) -> bool:
        """The stack's own broker, with SASL_SSL and ACLs (the stack's settings are then the operator's)."""
        return self._admin_settings is not None

    def client(self, user: str) -> KafkaClient:
        """How ``user`` connects to this stack's broker (on a plain one: anyone, without credentials)."""
        return settings_as(self.settings, user).kafka if self.kafka_secured else self.settings.kafka

    def kafka_user(self, user: str) -> dict[str, object]:
        """The settings fields a child connecting as ``user`` gets (none on a plain broker)."""
        if not self.kafka_secured:
            return {}
        return {"kafka_username": user, "kafka_password_file": password_file(self.settings, user)}

    def environment(self, **fields: object) -> dict[str, str]:
        """The children's environment: this stack's settings, field by field."""
        values = self.settings.model_dump()
        values["bootstrap_servers"] = self.settings.kafka_servers
        values["worker_urls"] = ",".join(self.worker_url(i) for i in range(self.workers))
        values.update(fields)
        env = dict(os.environ)
        for name, value in values.items():
            if value is None:
                env.pop(f"ORDERFLOW_{name.upper()}", None)
            else:
                shown = value.get_secret_value() if isinstance(value, SecretStr) else value
                env[f"ORDERFLOW_{name.upper()}"] = str(shown)
        return env

    def worker_data_dir(self, index: int) -> Path:
        return self.settings.run_dir / f"worker-{index}"

    def _start_worker(self, index: int, wait: bool = True) -> Child:
        data_dir = self.worker_data_dir(index)
        if self.fresh and data_dir.exists():
            shutil.rmtree(data_dir)
        instance = f"{self.settings.app_id}-worker-{index}"
        host, port = self._worker_address(index)
        child = Child(f"worker-{index}", [*self._prefix(index), *orderflow_command("worker")],
                      self.environment(worker_host=host, worker_port=port, data_dir=data_dir,
                                       worker_instance_id=instance, **self.kafka_user(WORKER)),
                      self.log_dir / f"worker-{index}.log")
        self.children.append(child)
        if wait:
            wait_http_ok(f"{self.worker_url(index)}/readyz", child, READY_TIMEOUT_S, self.settings.tls_ca_file)
            self._echo(f"worker-{index} ready at {self.worker_url(index)} (log {child.log_path})")
        return child

    def worker(self, index: int) -> Child:
        return next(c for c in reversed(self.children) if c.name == f"worker-{index}")

    def kill_worker(self, index: int, signum: int = signal.SIGKILL) -> int:
        """Signal a worker (kill -9 by default) and wait for it to end; returns its
        exit code. It stays down until ``restart_worker``."""
        with self._lock:
            self._held_down.add(index)
            child = self.worker(index)
        child.signal(signum)
        code = child.process.wait(60)
        with self._lock:
            self.children.remove(child)
        child.stop()
        return code

    def add_worker(self) -> int:
        """One more worker (on the next host of the placement, if there is one); its index.
        The gateway keeps the worker URLs it started with: any worker routes a read to the owner."""
        with self._lock:
            index = self.workers
            self.workers += 1
            self._start_worker(index, wait=False)
        return index

    def restart_worker(self, index: int, wait: bool = False) -> None:
        """Start a worker again on its port and data directory."""
        with self._lock:
            self._start_worker(index, wait=False)
            self._held_down.discard(index)
        if wait:  # whichever process serves the index: the supervisor may have replaced it
            wait_http_ok(f"{self.worker_url(index)}/readyz", None, READY_TIMEOUT_S, self.settings.tls_ca_file)

    @property
    def payment_simulator_url(self) -> str:
        scheme = "https" if self.settings.payment_sim_tls else "http"
        return f"{scheme}://{self.settings.payment_sim_host}:{self.settings.payment_sim_port}"

    def _launch_payment_simulator(self) -> Child:
        no_kafka = {"kafka_security_protocol": "PLAINTEXT", "kafka_username": "", "kafka_password_file": None}
        child = Child(SIMULATOR, orderflow_command("payment-sim"), self.environment(**no_kafka),
                      self.log_dir / "payment-sim.log")
        self.children.append(child)
        # the workers are launched next, with this address in their environment
        self.settings = self.settings.model_copy(update={"payment_provider_url": self.payment_simulator_url})
        return child

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.prometheus_port}"

    @property
    def mail_sink_url(self) -> str:
        """The mail sink's HTTP reads (GET /messages); its SMTP port is the one before."""
        return f"http://127.0.0.1:{self.settings.mail_sink_port + 1}"

    def _launch_mail_sink(self) -> tuple[Child, str]:
        """The SMTP server the workers launched next send the notification emails to; the child and
        the URL that answers once it serves."""
        child = Child("mail-sink", orderflow_command("mail-sink"), self.environment(), self.log_dir / "mail-sink.log")
        self.children.append(child)
        self.settings = self.settings.model_copy(update={"smtp_host": "127.0.0.1",
                                                         "smtp_port": self.settings.mail_sink_port})
        return child, f"{self.mail_sink_url}/healthz"

    @property
    def carrier_url(self) -> str:
        return f"http://{self.settings.carrier_sim_host}:{self.settings.carrier_sim_port}"

    def _launch_carrier(self) -> tuple[Child, str]:
        """The carrier simulator the workers launched next book shipments with."""
        child = Child("carrier-sim", orderflow_command("carrier-sim"), self.environment(),
                      self.log_dir / "carrier-sim.log")
        self.children.append(child)
        self.settings = self.settings.model_copy(update={"carrier_url": self.carrier_url})
        return child, f"{self.carrier_url}/healthz"

    @property
    def trace_sink_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.trace_sink_port}"

    def _launch_trace_sink(self) -> tuple[Child, str]:
        """The OTLP receiver the processes launched next send their spans to (their exporters
        retry until it serves)."""
        child = Child("trace-sink", orderflow_command("trace-sink"), self.environment(),
                      self.log_dir / "trace-sink.log")
        self.children.append(child)
        self.settings = self.settings.model_copy(update={"otlp_endpoint": self.trace_sink_url})
        return child, f"{self.trace_sink_url}/healthz"

    @property
    def alertmanager_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.alertmanager_port}"

    def _start_prometheus(self) -> None:
        """Alertmanager, then Prometheus scraping every process of the stack with
        the alert rules and sending what fires to that Alertmanager (Debian's
        packages' binaries)."""
        prometheus, alertmanager = shutil.which("prometheus"), shutil.which("prometheus-alertmanager")
        if prometheus is None or alertmanager is None:
            raise RuntimeError("--observe needs Prometheus and Alertmanager: `make install` installs them "
                               "(apt-get install prometheus prometheus-alertmanager)")
        directory = self.settings.run_dir / "prometheus"
        self._start_alertmanager(alertmanager, directory)
        targets = ScrapeTargets(workers=[self.worker_url(i) for i in range(self.workers)],
                                gateways=[self.gateway_url],
                                payment_provider=[self.payment_simulator_url] if self.payment_simulator else [],
                                ca_file=self.settings.tls_ca_file)
        config = write_config(directory, targets, self.settings.prometheus_scrape_interval_s, self._alert_scale,
                              alertmanagers=[urlsplit(self.alertmanager_url).netloc])
        child = Child("prometheus", [prometheus, f"--config.file={config}", f"--storage.tsdb.path={directory / 'data'}",
                                     f"--web.listen-address=127.0.0.1:{self.settings.prometheus_port}",
                                     "--storage.tsdb.retention.time=2d"],
                      dict(os.environ), self.log_dir / "prometheus.log")
        self.children.append(child)
        wait_http_ok(f"{self.prometheus_url}/-/ready", child, READY_TIMEOUT_S, None)
        self._echo(f"prometheus ready at {self.prometheus_url} (rules {directory / 'alerts.yml'})")

    def _start_alertmanager(self, executable: str, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        child = Child("alertmanager", [executable, f"--config.file={ALERTMANAGER_FILE}",
                                       f"--storage.path={directory / 'alertmanager'}",
                                       f"--web.listen-address=127.0.0.1:{self.settings.alertmanager_port}",
                                       "--cluster.listen-address="],  # one instance: no gossip port
                      dict(os.environ), self.log_dir / "alertmanager.log")
        self.children.append(child)
        wait_http_ok(f"{self.alertmanager_url}/-/ready", child, READY_TIMEOUT_S, None)

    def _launch_gateway(self) -> Child:
        return self.launch_gateway("gateway")

    def launch_gateway(self, name: str, host: ProcessHost | None = None, **fields: object) -> Child:
        """Another gateway process on this stack (``fields``: its own settings, e.g. a port; ``host``:
        a host of its own, at whose address it listens), stopped with it."""
        operator = {f"operator_{k}": v for k, v in self.kafka_user(OPERATOR).items()}  # its operator console's
        prefix = self._prefix(None) if host is None else list(host.prefix)
        placed = {} if host is None else {"gateway_host": host.address}
        child = Child(name, [*prefix, *orderflow_command("gateway")],
                      self.environment(**(self.kafka_user(GATEWAY) | operator | placed | fields)),
                      self.log_dir / f"{name}.log")
        self.children.append(child)
        return child

    def stop_gateway(self, child: Child) -> int:
        """Stop a gateway ``launch_gateway`` started (its exit is then not a crash)."""
        with self._lock:
            self.children.remove(child)
        return child.stop()

    def crashed(self) -> bool:
        """A child ended on its own (not by ``kill_worker``)."""
        with self._lock:
            return any(not c.alive() for c in self.children if not c.name.startswith("worker-"))

    def summary(self) -> str:
        kafka = (f"SASL_SSL, SCRAM users' passwords in {self.settings.dev_key_dir / 'kafka'}/"
                 if self.kafka_secured else "plain")
        lines = ["orderflow is up:",
                 f"  Kafka      {self.settings.kafka_servers}   ({kafka})",
                 f"  gateway    {self.gateway_url}   (POST /api/v1/orders, GET /api/v1/orders/{{id}})",
                 f"  shop       {self.gateway_url}/shop/   (the customers' page: sign in with a customer's token)",
                 f"  console    {self.gateway_url}/console/   (the operators' page: sign in with the operator token)"]
        if self.ca_file is not None:
            lines.append(f"  https      certificate by the CA {self.ca_file}: curl --cacert {self.ca_file} ..., "
                         f"or export CURL_CA_BUNDLE={self.ca_file}; a browser trusts the pages once that CA "
                         "is imported as an authority")
        lines += [f"  worker-{i}   {self.worker_url(i)}" for i in range(self.workers)]
        if self.payment_simulator:
            lines.append(f"  payments   {self.payment_simulator_url}   (simulator; PUT /_sim/behaviour scripts it)")
        if self.observe:
            lines.append(f"  prometheus {self.prometheus_url}   (alerts: {self.prometheus_url}/alerts)")
            lines.append(f"  alerts     {self.alertmanager_url}   (Alertmanager)")
        if self.carrier:
            lines.append(f"  carrier    {self.carrier_url}   (shipments: {self.carrier_url}/_sim/references/<orderId>)")
        if self.mail_sink:
            lines.append(f"  mail       smtp://127.0.0.1:{self.settings.mail_sink_port}   "
                         f"(received: {self.mail_sink_url}/messages)")
        if self.settings.otlp_endpoint:
            lines.append(f"  traces     {self.settings.otlp_endpoint}   (OTLP; the local sink lists them at /traces)")
        lines.append(f"  logs       {self.log_dir}")
        if not self.settings.auth_enabled:
            lines.append("  auth       off (ORDERFLOW_AUTH_ENABLED=false): /api/v1 takes no token")
        elif self.signing_key is not None:
            lines += [f"  auth       tokens signed by {self.settings.dev_key_dir} (valid 12 h); an operator token:",
                      f"export TOKEN={self.token('operator', subject='dev-operator', ttl_s=12 * 3600)}",
                      "  a customer's: .venv/bin/orderflow token --customer <customerId>"
                      "   (--scope operator|service for others)"]
        else:
            lines.append("  auth       tokens from the configured keys (ORDERFLOW_AUTH_*)")
        lines.append("Ctrl-C stops everything.")
        return "\n".join(lines)

    def stop(self, kill: bool = False) -> None:
        """Stop every process cleanly, or with ``kill`` at once (SIGKILL)."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join()
            self._supervisor = None
        if kill:
            for child in self.children:
                child.signal(signal.SIGKILL)
        # The gateway and the workers stop together (a clean stop takes each a
        # few seconds); the payment simulator after them, so that no worker
        # loses its provider in the middle of a call; the broker last.
        for child in self.children:
            if child.name != SIMULATOR:
                child.terminate()
        for child in reversed(self.children):
            code = child.stop()
            self._echo(f"{child.name} stopped (exit {code})")
        self.children.clear()
        if self._kafka is not None:
            self._kafka.stop()
            self._echo("Kafka stopped")
            self._kafka = None
