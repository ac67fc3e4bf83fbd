"""The stack under load: started here (a fresh LocalKafka unless a broker is
given, then a DevStack of N workers, the payment simulator and the gateway),
or one already running (a gateway URL and its broker).

Consumes the settings and the run's config; produces a :class:`Target` (where
to send, which consumer group to watch, which processes to measure) and stops
what it started.
"""

from __future__ import annotations

import shutil
import ssl
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from orderflow.certs import client_context
from orderflow.kafka_client import KafkaClient
from orderflow.ports import free_port, free_port_run
from orderflow.settings import Settings

__all__ = ["BENCH_SCOPES", "Target", "local_ca", "local_token", "own_stack"]

# The bench's own stack lets a few hundred customers place many orders: the
# velocity check still runs on every order, its limits are just out of reach.
UNLIMITED_VELOCITY = {"velocity_max_orders": 1_000_000_000, "velocity_max_amount_cents": 10**15}
# The bench is a machine client (orders, reads) that also seeds stock (an admin route).
BENCH_SCOPES = ("service", "operator")
TOKEN_TTL_S = 24 * 3600


@dataclass
class Target:
    kafka: KafkaClient | str  # how the bench reads (lag, outcomes): the operator's principal when secured
    gateway_url: str
    app_id: str
    partitions: int
    processes: dict[str, int] = field(default_factory=dict)  # name -> pid, for CPU seconds
    token: str | None = None  # the bearer token the bench's HTTP clients send
    ca_file: Path | None = None  # the CA the gateway's certificate is checked against (https), beside the system's
    producer: KafkaClient | None = None  # how it places orders on Kafka: an external producer's principal

    @property
    def ingress(self) -> KafkaClient | str:
        return self.producer or self.kafka

    @property
    def secured_kafka(self) -> bool:
        return isinstance(self.kafka, KafkaClient) and self.kafka.uses_sasl

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    @property
    def ssl(self) -> ssl.SSLContext:
        """How the bench's HTTP clients check the gateway (used only over https)."""
        return client_context(self.ca_file)


def local_token(settings: Settings) -> str | None:
    """A bench token from the local signing key in the settings' run directory, if there is one."""
    from orderflow.signing import load_dev_key, mint

    try:
        key = load_dev_key(settings.dev_key_dir)
    except FileNotFoundError:
        return None
    return mint(key, settings, "bench", BENCH_SCOPES, TOKEN_TTL_S)


def local_ca(settings: Settings) -> Path | None:
    """The local stack's CA in the settings' run directory, if there is one (ORDERFLOW_TLS_CA_FILE names another)."""
    from orderflow import certs

    return certs.local_ca(settings.run_dir)


@contextmanager
def own_stack(settings: Settings, run_dir: Path, workers: int, bootstrap: str | None = None,
              echo=print) -> Iterator[Target]:
    """A fresh stack in ``run_dir`` (wiped first); its data is removed after, its logs kept."""
    from orderflow.broker import LocalKafka, ensure_jars
    from orderflow.dev_kafka import broker_security, client_as
    from orderflow.kafka_acls import PRODUCER
    from orderflow.stack import DevStack

    shutil.rmtree(run_dir, ignore_errors=True)
    kafka = None
    processes: dict[str, int] = {}
    stack_settings = settings.model_copy(update={
        "app_id": f"orderflow-bench-{uuid.uuid4().hex[:6]}",
        "run_dir": run_dir / "stack", "worker_port": free_port_run(workers), "gateway_port": free_port(),
        "payment_sim_port": free_port(), "mail_sink_port": free_port_run(2), "carrier_sim_port": free_port(),
        **UNLIMITED_VELOCITY})
    if not bootstrap:
        # secured as `orderflow dev`'s is (SASL_SSL, ACLs) unless ORDERFLOW_LOCAL_KAFKA_SECURITY=false
        security = broker_security(stack_settings) if settings.local_kafka_security else None
        kafka = LocalKafka(run_dir / "kafka", nodes=1, port=0, heap=settings.broker_heap,
                           lib_dir=ensure_jars(settings.jar_cache), security=security)
        echo(f"starting Kafka {kafka.version} ...")
        kafka.start(fresh=True)
        processes["broker"] = int((run_dir / "kafka" / "node-1" / "kafka.pid").read_text())
    stack = DevStack(stack_settings.model_copy(update={"bootstrap_servers": bootstrap or ""}), workers=workers,
                     echo=echo, broker=kafka)
    try:
        stack.start()
        processes.update({child.name: child.pid for child in stack.children})
        token = stack.token(*BENCH_SCOPES, subject="bench", ttl_s=TOKEN_TTL_S) if stack.signing_key else None
        producer = client_as(stack.settings, PRODUCER) if stack.kafka_secured else None
        yield Target(stack.settings.kafka, stack.gateway_url, stack.settings.app_id, stack.settings.partitions,
                     processes, token, stack.ca_file, producer)
    finally:
        stack.stop()
        if kafka is not None:
            kafka.stop()
            shutil.rmtree(run_dir / "kafka", ignore_errors=True)
        for data in (run_dir / "stack").glob("worker-*"):
            shutil.rmtree(data, ignore_errors=True)
