"""The one settings object, read from the environment (prefix ``ORDERFLOW_``).

``Settings()`` is built once, in the command-line entry point or a test
fixture, and handed down; no module reads the environment on its own.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from orderflow.kafka_client import KafkaClient, Protocol

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Everything a process of orderflow may be configured with."""

    model_config = SettingsConfigDict(env_prefix="ORDERFLOW_", frozen=True)

    # Kafka. Empty means: the local launcher starts a broker in run_dir.
    bootstrap_servers: str = ""
    schema_registry_url: str = ""
    # Who this process is on a secured cluster (SASL_SSL with SCRAM-SHA-512
    # on the local one): its principal and password (or a file holding it,
    # e.g. a mounted secret) and the CA the brokers' certificates are checked
    # against (the worker's aiokafka clients trust it beside the system's
    # roots; librdkafka's, the gateway's and the tools', trust only it, as
    # ssl.ca.location does). PLAINTEXT: no credentials.
    kafka_security_protocol: Protocol = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_username: str = ""
    kafka_password: SecretStr = SecretStr("")
    kafka_password_file: Path | None = None
    kafka_ca_file: Path | None = None
    # The gateway's operator console (status, dead letters, replays) reads and
    # writes Kafka as the operator, not as the gateway: on a secured cluster
    # only a gateway given these credentials serves it (others answer 503).
    operator_kafka_username: str = ""
    operator_kafka_password: SecretStr = SecretStr("")
    operator_kafka_password_file: Path | None = None
    # Partitions per topic. Every fetch lists every partition a consumer holds,
    # so on one shared machine fewer partitions cost the worker and the broker
    # less per order; a cluster sets more (docker-compose: 12), and a topic's
    # partitions bound how many workers share its load.
    partitions: int = Field(4, ge=1)
    replication_factor: int = Field(1, ge=1)
    min_insync_replicas: int = Field(1, ge=1)

    # Local broker (used only when bootstrap_servers is empty).
    run_dir: Path = Path("run")
    # Where the broker's jars are cached (resolved once by Maven, shared by run dirs).
    jar_cache: Path = Path("run")
    broker_port: int = 19092
    broker_heap: str = "512m"
    # The local stack's broker (`orderflow dev`, the benchmark's) listens with
    # SASL_SSL, SCRAM users per component and ACLs from the catalog, unless
    # this is off (then plain, as before).
    local_kafka_security: bool = True

    # Faust worker.
    app_id: str = "orderflow"
    # A fetch is answered once this much is ready or the wait is over (Kafka's
    # fetch.min.bytes and fetch.max.wait.ms): fewer, fuller fetches per order.
    fetch_min_bytes: int = Field(64 << 10, ge=1)
    fetch_max_wait_s: float = Field(0.05, gt=0, le=1.5)
    # The host other workers and the gateway reach this worker at; empty means
    # this machine's hostname (containers). worker_bind is the listen address.
    worker_host: str = "127.0.0.1"
    worker_bind: str = ""
    worker_port: int = 6066
    data_dir: Path = Path("run/worker-data")
    # A stable name per worker (static group membership, KIP-345): a worker
    # restarted under the same name gets its partitions back without a
    # rebalance. Empty: dynamic membership.
    worker_instance_id: str = ""
    # A member silent this long is dropped from the group and its partitions
    # go to the others.
    group_session_timeout_s: float = Field(30.0, gt=0)
    # An assigned partition whose committed offset lags its end this long,
    # with its agent idle and no recovery running, is a stalled consumer
    # (faust-streaming can lose track of a partition over repeated
    # rebalances): the worker exits for its supervisor to restart it.
    stall_timeout_s: float = Field(60.0, gt=0)
    # How often a worker commits the offsets of handled messages; a crash
    # replays at most this much (Faust's default).
    commit_interval_s: float = Field(2.8, gt=0)
    # A handler exception that is not a refusal of the message is a bug: the
    # message is dead-lettered, and this many within the window stop the
    # worker (agents.failures) instead of dead-lettering every order.
    handler_failure_limit: int = Field(
        5, ge=1, description="handler exceptions (dead-lettered) within the window that stop the worker")
    handler_failure_window_s: float = Field(
        60.0, gt=0, description="the window, in seconds, of handler_failure_limit")
    handler_failure_exit_delay_s: float = Field(
        3.0, ge=0, description="how long a worker so stopped stays up not ready, so probes see why, before it exits")

    # HTTP ingress.
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    # HTTPS: the gateway serves TLS when given a certificate and its key
    # (`orderflow dev` makes them, signed by a local CA); tls_ca_file is a CA
    # orderflow's clients trust beside the system's (the local one).
    gateway_tls_cert_file: Path | None = None
    gateway_tls_key_file: Path | None = None
    tls_ca_file: Path | None = None
    # The local stack (`orderflow dev`, the tests', the benchmark's) makes its
    # own CA and certificates for all three servers unless this is off.
    local_tls: bool = True
    # The same for the workers' table reads (:6066) and the payment simulator.
    worker_tls_cert_file: Path | None = None
    worker_tls_key_file: Path | None = None
    payment_sim_tls_cert_file: Path | None = None
    payment_sim_tls_key_file: Path | None = None
    # Where the gateway sends tracking reads; any worker forwards to the owner.
    worker_urls: str = "http://127.0.0.1:6066"
    request_timeout_s: float = Field(5.0, gt=0)

    # Authentication of the gateway's /api/v1 routes (JWT bearer tokens).
    # On by default; off only for a gateway behind another authenticating proxy.
    auth_enabled: bool = True
    auth_issuer: str = "orderflow"
    auth_audience: str = "orderflow-api"
    # The keys tokens are verified with: a PEM public key file, a JWKS URL, or
    # (only if set) a shared secret for HS256; at least one when auth is on.
    auth_public_key_file: Path | None = None
    auth_jwks_url: str = ""
    auth_shared_secret: SecretStr = SecretStr("")
    # The algorithm allow-list (comma separated); "none" is never allowed.
    auth_algorithms: str = "ES256,RS256"
    auth_leeway_s: int = Field(30, ge=0, le=300, description="clock skew allowed on exp and nbf")

    # Rate limits (tables/rate_limits.py): per API key (a key may set its own)
    # and per customer; service and operator tokens only if set (0: unlimited).
    rate_limit_enabled: bool = True
    rate_limit_per_hour: int = Field(1000, ge=1, description="requests per key or customer in any hour")
    rate_limit_burst: int = Field(100, ge=1, description="requests per key or customer in any minute")
    rate_limit_tokens_per_hour: int = Field(0, ge=0, description="per service or operator token (0: unlimited)")
    rate_limit_tokens_burst: int = Field(0, ge=0, description="per minute for those tokens (0: a 60th of the hour)")
    # How many gateways share the load: each enforces this share of every
    # limit, so together they never allow more than the limit.
    gateway_instances: int = Field(1, ge=1)

    # The order saga.
    default_price_cents: int = Field(1000, ge=0, description="price of a product with no price yet")
    low_stock_threshold: int = Field(5, ge=0, description="LowStock below this many available, unless set per product")
    payment_timeout_s: float = Field(300.0, gt=0, description="pending_payment longer than this is cancelled")
    payment_scan_interval_s: float = Field(1.0, gt=0)
    long_poll_max_s: float = Field(30.0, gt=0)
    estimated_delivery_days: int = Field(5, ge=0, description="the delivery date promised: this many days "
                                         "after placement")

    # Customers and the order's customer check.
    require_known_customer: bool = True
    velocity_window_s: float = Field(3600.0, gt=0, description="tumbling window of the velocity limits")
    velocity_max_orders: int = Field(100, ge=1, description="orders per customer per window")
    velocity_max_amount_cents: int = Field(10_000_000, ge=1, description="amount per customer per window")

    # The payment provider (the simulator when run locally).
    payment_provider_url: str = "http://127.0.0.1:8090"
    # The provider's API key (the simulator accepts this one): here, or in a
    # file (..._API_KEY_FILE, e.g. a mounted secret). The local stack makes one.
    payment_provider_api_key: SecretStr = SecretStr("")
    payment_provider_api_key_file: Path | None = None
    payment_sim_host: str = "127.0.0.1"
    payment_sim_port: int = 8090
    # `orderflow dev --observe`: the Prometheus and Alertmanager it starts (Debian's packages' binaries)
    # and how often Prometheus scrapes
    prometheus_port: int = 9090
    alertmanager_port: int = 9093
    trace_sink_port: int = 4318  # the OTLP receiver it starts (`orderflow trace-sink`), where Jaeger cannot run
    prometheus_scrape_interval_s: float = Field(5.0, gt=0)
    payment_http_timeout_s: float = Field(2.0, gt=0)
    payment_attempts: int = Field(3, ge=1)
    payment_backoff_initial_s: float = Field(0.1, gt=0)
    payment_backoff_max_s: float = Field(2.0, gt=0)
    payment_breaker_failures: int = Field(5, ge=1)
    payment_breaker_recovery_s: float = Field(5.0, gt=0)

    # Notification emails: sent by agent send_notifications when an SMTP host is set (the local
    # stack: its mail sink, `orderflow mail-sink`)
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_from: str = "orderflow <orders@orderflow.example>"
    smtp_message_id_domain: str = "orderflow.example"
    smtp_timeout_s: float = Field(5.0, gt=0)
    smtp_attempts: int = Field(3, ge=1)
    smtp_breaker_failures: int = Field(5, ge=1)
    smtp_breaker_recovery_s: float = Field(5.0, gt=0)
    mail_sink_port: int = 8025  # the local stack's SMTP server (`orderflow mail-sink`), and its HTTP reads on +1

    # The delivery service: agent deliver_orders books each confirmed order with the carrier and
    # timer track_shipments follows it there, when a carrier URL is set (the local stack: its carrier
    # simulator, `orderflow carrier-sim`); without one, orders ship only by the admin route
    carrier_url: str = ""
    carrier_sim_host: str = "127.0.0.1"
    carrier_sim_port: int = 8095
    carrier_poll_interval_s: float = Field(2.0, gt=0, description="how often open shipments are read at the carrier")
    carrier_http_timeout_s: float = Field(2.0, gt=0)
    carrier_attempts: int = Field(3, ge=1)
    carrier_breaker_failures: int = Field(5, ge=1)
    carrier_breaker_recovery_s: float = Field(5.0, gt=0)
    # the simulator's schedule: seconds after booking at which a parcel is picked up, in transit,
    # delivered (negative: held until scripted over /_sim)
    carrier_sim_picked_up_after_s: float = 20.0
    carrier_sim_in_transit_after_s: float = 40.0
    carrier_sim_delivered_after_s: float = 60.0

    log_level: str = "info"
    log_format: Literal["plain", "json"] = Field(
        "plain", description="json: one JSON object per line (time, level, process, agent, orderId, trace and span id)")
    # OpenTelemetry traces, exported over OTLP/HTTP (e.g. http://jaeger:4318) when set; off when empty
    otlp_endpoint: str = ""
    trace_sample_ratio: float = Field(1.0, ge=0, le=1, description="share of new traces recorded (the gateway's "
                                      "choice is kept by every agent downstream)")

    @property
    def uses_local_broker(self) -> bool:
        return not self.bootstrap_servers.strip()

    @property
    def kafka_servers(self) -> str:
        """The bootstrap servers to connect to: the configured ones, or the local broker's."""
        return self.bootstrap_servers.strip() or f"127.0.0.1:{self.broker_port}"

    @property
    def kafka(self) -> KafkaClient:
        """This process's connection to Kafka: the servers and, when secured, its credentials."""
        password = self.kafka_password
        if not password.get_secret_value() and self.kafka_password_file is not None:
            password = SecretStr(self.kafka_password_file.read_text().strip())
        return KafkaClient(self.kafka_servers, self.kafka_security_protocol, self.kafka_sasl_mechanism,
                           self.kafka_username, password, self.kafka_ca_file)

    def as_operator(self) -> Settings | None:
        """These settings connecting to Kafka as the operator's tools do: on a plain
        broker the same connection; on a secured one the operator's credentials,
        None when none are configured."""
        if not self.kafka_security_protocol.startswith("SASL_"):
            return self
        if not self.operator_kafka_username:
            return None
        return self.model_copy(update={"kafka_username": self.operator_kafka_username,
                                       "kafka_password": self.operator_kafka_password,
                                       "kafka_password_file": self.operator_kafka_password_file})

    @model_validator(mode="after")
    def _sasl_needs_a_user(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_") and not self.kafka_username:
            raise ValueError(f"ORDERFLOW_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} "
                             "needs ORDERFLOW_KAFKA_USERNAME (and a password or ORDERFLOW_KAFKA_PASSWORD_FILE)")
        return self

    @model_validator(mode="after")
    def _tls_files_come_in_pairs(self) -> Settings:
        # one of the two alone would silently serve plain HTTP
        for server in ("gateway", "worker", "payment_sim"):
            cert, key = getattr(self, f"{server}_tls_cert_file"), getattr(self, f"{server}_tls_key_file")
            if (cert is None) != (key is None):
                name = f"ORDERFLOW_{server.upper()}_TLS"
                raise ValueError(f"HTTPS needs both {name}_CERT_FILE and {name}_KEY_FILE, or neither")
        return self

    @property
    def gateway_tls(self) -> bool:
        return self.gateway_tls_cert_file is not None and self.gateway_tls_key_file is not None

    @property
    def worker_tls(self) -> bool:
        return self.worker_tls_cert_file is not None and self.worker_tls_key_file is not None

    @property
    def payment_sim_tls(self) -> bool:
        return self.payment_sim_tls_cert_file is not None and self.payment_sim_tls_key_file is not None

    @property
    def gateway_url(self) -> str:
        """Where this gateway is reached: https when it serves TLS."""
        return f"{'https' if self.gateway_tls else 'http'}://{self.gateway_host}:{self.gateway_port}"

    @property
    def payment_api_key(self) -> str:
        """The payment provider's API key, from the setting or its file ("" if neither is set)."""
        if self.payment_provider_api_key.get_secret_value():
            return self.payment_provider_api_key.get_secret_value()
        if self.payment_provider_api_key_file is not None:
            return self.payment_provider_api_key_file.read_text().strip()
        return ""

    @property
    def auth_algorithm_list(self) -> list[str]:
        return [a.strip() for a in self.auth_algorithms.split(",") if a.strip()]

    @property
    def dev_key_dir(self) -> Path:
        """Where the local stack keeps its token signing key (``orderflow dev``, ``orderflow token``)."""
        return self.run_dir / "auth"

    @property
    def worker_url_list(self) -> list[str]:
        return [u.strip().rstrip("/") for u in self.worker_urls.split(",") if u.strip()]

    @property
    def advertised_worker_host(self) -> str:
        return self.worker_host or socket.gethostname()

    @property
    def canonical_worker_url(self) -> str:
        return f"{'https' if self.worker_tls else 'http'}://{self.advertised_worker_host}:{self.worker_port}"
