"""The ``orderflow`` command line (click, which Faust already depends on).

The service's commands: ``topics``, ``worker`` and ``gateway`` run one part
each; ``dlq`` lists and replays dead letters; ``api-key`` issues, lists and
revokes API keys; ``kafka-acls`` prints (and applies) the ACLs of a secured
cluster; ``token`` mints a development
token from the local signing key. The development tools' commands
(``orderflow.devcommands``; hidden where orderflow-devtools is not installed):
``dev`` runs the whole local stack, ``broker`` a local Kafka, ``payment-sim``
the payment simulator, and ``bench`` measures throughput and latency
(``orderflow.bench.cli``, imported only when it runs). Settings come from the
environment (ORDERFLOW_*), read once here; options override single fields.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Any

import click

from orderflow.devcommands import DevCommand, LazyCommand
from orderflow.kafka_acls import ADMIN, OPERATOR
from orderflow.settings import Settings

__all__ = ["main"]


def _as_user(ctx: click.Context, user: str) -> Settings:
    """The settings, as ``user`` of the local secured broker when run beside ``orderflow dev``
    with no Kafka credentials of their own."""
    from orderflow.dev_kafka import settings_as, uses_dev_kafka_users

    settings: Settings = ctx.obj
    return settings_as(settings, user) if uses_dev_kafka_users(settings) else settings


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    base: Settings = ctx.obj
    update = {k: v for k, v in overrides.items() if v is not None}
    return base.model_copy(update=update) if update else base


class StopRequested(BaseException):
    """SIGINT or SIGTERM arrived while a command was still starting.

    A BaseException, like KeyboardInterrupt, so no ``except Exception`` on the
    way swallows it and every ``finally`` (LocalKafka.start's cleanup too) runs."""


class StopSignals:
    """SIGINT and SIGTERM handled alike for a command that starts processes.

    Without a handler SIGTERM ends Python at once, skipping every ``finally``
    and atexit hook: a broker started in its own session would outlive the
    command. So until ``stop_raising()``, the first signal raises StopRequested
    (the start unwinds and stops what it started); after it, signals only end
    ``wait()``. A signal during the stop is recorded, never raised, so it
    cannot cut the cleanup short.
    """

    def __init__(self) -> None:
        self.received: list[int] = []
        self._stop = threading.Event()
        self._interrupt = True
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: Any) -> None:
        self.received.append(signum)
        self._stop.set()
        if self._interrupt:
            self._interrupt = False
            raise StopRequested(signum)

    def stop_raising(self) -> None:
        """From now on a signal only ends ``wait()``."""
        self._interrupt = False

    def wait(self, extra_check: Any = None) -> int:
        """Block until a signal (returns it) or ``extra_check()`` says stop (returns 0)."""
        self.stop_raising()
        while not self._stop.wait(0.5):
            if extra_check is not None and extra_check():
                return 0
        return self.received[0]


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """orderflow: an order pipeline on Kafka. See README.md."""
    ctx.obj = Settings()


@main.command(cls=DevCommand)
@click.option("--nodes", type=int, default=1, show_default=True, help="1, or 3 for a replicated cluster.")
@click.option("--port", type=int, default=None, help="First client port (default ORDERFLOW_BROKER_PORT).")
@click.option("--fresh", is_flag=True, help="Wipe the broker's data first.")
@click.pass_context
def broker(ctx: click.Context, nodes: int, port: int | None, fresh: bool) -> None:
    """Run a local Apache Kafka (KRaft) from Maven Central jars until Ctrl-C."""
    from orderflow.broker import LocalKafka, ensure_jars
    from orderflow.dev_kafka import broker_security, client_as

    settings: Settings = ctx.obj
    security = broker_security(settings) if settings.local_kafka_security else None
    kafka = LocalKafka(settings.run_dir / ("kafka" if nodes == 1 else f"kafka-{nodes}"), nodes=nodes,
                       port=port or settings.broker_port, heap=settings.broker_heap,
                       lib_dir=ensure_jars(settings.jar_cache), security=security)
    click.echo(f"starting Kafka {kafka.version} ({nodes} node(s)) ...")
    signals = StopSignals()
    try:
        kafka.start(fresh=fresh)  # stops what it launched if a signal interrupts it
    except StopRequested:
        click.echo("stopped while starting")
        return
    click.echo(f"Kafka ready in {kafka.startup_seconds:.1f}s at {kafka.bootstrap_servers}; Ctrl-C stops it")
    if security is not None:
        from orderflow.kafka_acls import apply_acls

        count = apply_acls(client_as(settings, ADMIN, kafka.bootstrap_servers), settings.app_id)
        click.echo(f"SASL_SSL (SCRAM-SHA-512): users' passwords in {settings.dev_key_dir / 'kafka'}/, CA "
                   f"{security.ca_file}; {count} ACLs from the catalog")
    try:
        signals.wait()
    finally:
        signals.stop_raising()
        kafka.stop()
        click.echo("Kafka stopped")


@main.command("kafka-acls")
@click.option("--apply", "apply", is_flag=True, help="Create them on the cluster (as a super user).")
@click.pass_context
def kafka_acls(ctx: click.Context, apply: bool) -> None:
    """Print the ACLs the catalog calls for (one per line); --apply creates them."""
    from orderflow.kafka_acls import apply_acls, grants

    settings = _as_user(ctx, ADMIN)
    for grant in grants(settings.app_id):
        click.echo(str(grant))
    if apply:
        click.echo(f"{apply_acls(settings.kafka, settings.app_id)} ACLs in place on {settings.kafka_servers}")


@main.command()
@click.option("--list", "list_only", is_flag=True, help="Print the catalog without touching the broker.")
@click.pass_context
def topics(ctx: click.Context, list_only: bool) -> None:
    """Create the catalog's topics (idempotent) and print them."""
    from orderflow.topics import catalog_markdown, ensure_topics

    settings = _as_user(ctx, ADMIN)
    click.echo(catalog_markdown(settings))
    if not list_only:
        created = ensure_topics(settings)
        click.echo(f"created {len(created)} topic(s) on {settings.kafka_servers}")


@main.command()
@click.option("--port", type=int, default=None, help="Web port (ORDERFLOW_WORKER_PORT).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="RocksDB dir (ORDERFLOW_DATA_DIR).")
@click.pass_context
def worker(ctx: click.Context, port: int | None, data_dir: Path | None) -> None:
    """Run one Faust worker (agents, tables, table reads) until SIGTERM."""
    from orderflow.agents.worker import run_worker

    run_worker(_settings(ctx, worker_port=port, data_dir=data_dir))


@main.command()
@click.option("--port", type=int, default=None, help="HTTP port (ORDERFLOW_GATEWAY_PORT).")
@click.pass_context
def gateway(ctx: click.Context, port: int | None) -> None:
    """Run the HTTP ingress until SIGTERM."""
    from orderflow.gateway.server import run_gateway
    from orderflow.gateway.tokens import AuthConfigError

    try:
        run_gateway(_settings(ctx, gateway_port=port))
    except AuthConfigError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.option("--customer", "customer_id", default=None, help="A customer's token: its customerId (scope customer).")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(["customer", "service", "operator"]),
              help="Scopes of the token (repeatable); default: customer with --customer, else operator.")
@click.option("--subject", default=None, help="The token's subject (default: the customerId, or dev-<scope>).")
@click.option("--ttl", type=click.FloatRange(min=1), default=3600, show_default=True, help="Seconds it is valid.")
@click.pass_context
def token(ctx: click.Context, customer_id: str | None, scopes: tuple[str, ...], subject: str | None,
          ttl: float) -> None:
    """Mint a development token from the local signing key (created in ORDERFLOW_RUN_DIR/auth if missing)."""
    from orderflow.signing import ensure_dev_key, mint

    settings: Settings = ctx.obj
    chosen = scopes or (("customer",) if customer_id else ("operator",))
    if "customer" in chosen and not (customer_id or subject):
        raise click.UsageError("a customer token needs --customer <customerId>")
    who = subject or customer_id or f"dev-{chosen[0]}"
    click.echo(mint(ensure_dev_key(settings.dev_key_dir), settings, who, chosen, ttl))


@main.command("payment-sim", cls=DevCommand)
@click.option("--port", type=int, default=None, help="HTTP port (ORDERFLOW_PAYMENT_SIM_PORT).")
@click.pass_context
def payment_sim(ctx: click.Context, port: int | None) -> None:
    """Run the payment provider simulator (scriptable declines, latency, errors, outage)."""
    from orderflow.simulator.payment_provider import run_payment_provider

    settings: Settings = ctx.obj
    if not settings.payment_api_key:
        raise click.ClickException("the simulator needs the API key it accepts: set ORDERFLOW_PAYMENT_PROVIDER_API_KEY "
                                   "or ORDERFLOW_PAYMENT_PROVIDER_API_KEY_FILE")
    from orderflow.certs import serving_context

    tls = serving_context(settings.payment_sim_tls_cert_file, settings.payment_sim_tls_key_file)
    run_payment_provider(settings.payment_sim_host, port or settings.payment_sim_port, settings.payment_api_key, tls)


@main.command("trace-sink", cls=DevCommand)
@click.option("--port", type=int, default=None, help="HTTP port (ORDERFLOW_TRACE_SINK_PORT).")
@click.pass_context
def trace_sink(ctx: click.Context, port: int | None) -> None:
    """Run a small OTLP/HTTP trace receiver (GET /traces, /traces/{id}) where Jaeger cannot run."""
    from orderflow.simulator.trace_sink import run_trace_sink

    settings: Settings = ctx.obj
    run_trace_sink("127.0.0.1", port or settings.trace_sink_port)


@main.command("carrier-sim", cls=DevCommand)
@click.option("--port", type=int, default=None, help="HTTP port (ORDERFLOW_CARRIER_SIM_PORT).")
@click.pass_context
def carrier_sim(ctx: click.Context, port: int | None) -> None:
    """Run the carrier simulator: bookings, tracking and cancels, on the schedule of the settings."""
    from orderflow.simulator.carrier import Behaviour, run_carrier

    s: Settings = ctx.obj
    held = [None if after < 0 else after for after in (s.carrier_sim_picked_up_after_s,
                                                      s.carrier_sim_in_transit_after_s,
                                                      s.carrier_sim_delivered_after_s)]
    run_carrier(s.carrier_sim_host, port or s.carrier_sim_port,
                Behaviour(picked_up_after_s=held[0], in_transit_after_s=held[1], delivered_after_s=held[2],
                          estimated_days=s.estimated_delivery_days))


@main.command("mail-sink", cls=DevCommand)
@click.option("--port", type=int, default=None,
              help="SMTP port; its HTTP reads on the next (ORDERFLOW_MAIL_SINK_PORT).")
@click.pass_context
def mail_sink(ctx: click.Context, port: int | None) -> None:
    """Run a local SMTP server that keeps what it receives (GET /messages on the port after)."""
    from orderflow.simulator.mail_sink import run_mail_sink

    settings: Settings = ctx.obj
    run_mail_sink("127.0.0.1", port or settings.mail_sink_port)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object, for scripts.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Brokers, the workers and their partitions, lag, dead letters, open orders, the payment provider.

    Exits 1 when the brokers are unreachable, a partition is offline or a worker is not ready."""
    from orderflow.status import beside_dev, gather, healthy, render

    report = gather(beside_dev(_as_user(ctx, OPERATOR)))
    click.echo(json.dumps(report, indent=2) if as_json else render(report))
    ctx.exit(0 if healthy(report) else 1)


@main.group()
def dlq() -> None:
    """Dead letters: list them, replay them to the topic they came from."""


@dlq.command("list")
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True,
              help="Show the newest N (0: all).")
@click.option("--topic", "source_topic", default=None, help="Only those from this source topic.")
@click.pass_context
def dlq_list(ctx: click.Context, limit: int, source_topic: str | None) -> None:
    """Print dead letters, oldest first: PARTITION:OFFSET, source, key, value, reason."""
    from orderflow.deadletters import DeadLetterError, describe, read

    settings = _as_user(ctx, OPERATOR)
    try:
        letters, total = read(settings.kafka, source_topic=source_topic, limit=limit or None)
    except DeadLetterError as exc:
        raise click.ClickException(str(exc)) from exc
    for letter in letters:
        click.echo(describe(letter))
    click.echo(f"{len(letters)} shown; {total} dead letter(s) in all")


@dlq.command("replay")
@click.argument("positions", nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter.")
@click.option("--source-topic", default=None, help="Replay every dead letter from this topic.")
@click.pass_context
def dlq_replay(ctx: click.Context, positions: tuple[str, ...], replay_all: bool, source_topic: str | None) -> None:
    """Re-produce dead letters (PARTITION:OFFSET as `list` prints them) to their source topic."""
    from orderflow.deadletters import DeadLetterError, fetch, read, replay

    if bool(positions) + replay_all + (source_topic is not None) != 1:
        raise click.UsageError("name PARTITION:OFFSET positions, or --all, or --source-topic (one of them)")
    settings = _as_user(ctx, OPERATOR)
    try:
        if positions:
            letters = fetch(settings.kafka, positions)
        else:
            letters, _ = read(settings.kafka, source_topic=source_topic)
        for done in replay(settings.kafka, letters):
            click.echo(f"replayed {done.dead_letter} -> {done.topic}[{done.partition}]@{done.offset}")
    except DeadLetterError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{len(letters)} dead letter(s) replayed")


@main.group("api-key")
def api_key() -> None:
    """API keys of partner and service clients: issue, list, revoke (stored hashed in Kafka)."""


@api_key.command("issue")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(["service", "operator"]),
              help="Scopes of the key (repeatable; default: service).")
@click.option("--per-hour", type=click.IntRange(min=0), default=0,
              help="Requests allowed in any hour (0: the gateway's ORDERFLOW_RATE_LIMIT_PER_HOUR).")
@click.option("--burst", type=click.IntRange(min=0), default=0,
              help="Requests allowed in any minute (0: the gateway's ORDERFLOW_RATE_LIMIT_BURST).")
@click.pass_context
def api_key_issue(ctx: click.Context, name: str, scopes: tuple[str, ...], per_hour: int, burst: int) -> None:
    """Issue a key for NAME and print it: it is shown only this once (only its hash is kept)."""
    from orderflow.apikeys import issue_key
    from orderflow.schemas.registry import codec_for
    from orderflow.tables.access import Scope

    settings = _as_user(ctx, OPERATOR)
    chosen = frozenset(Scope(s) for s in scopes or ("service",))
    try:
        issued = issue_key(settings.kafka, codec_for(settings), name, chosen, per_hour, burst)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(f"key id {issued.record['keyId']} for {name!r} ({' '.join(sorted(chosen))}); send it as X-API-Key:",
               err=True)
    click.echo(issued.key)


@api_key.command("list")
@click.pass_context
def api_key_list(ctx: click.Context) -> None:
    """Print every key: id, name, scopes, limits, state (never a secret or its hash)."""
    from orderflow.apikeys import read_keys
    from orderflow.schemas.registry import codec_for

    settings = _as_user(ctx, OPERATOR)
    keys = read_keys(settings.kafka, codec_for(settings))
    for record in sorted(keys.values(), key=lambda r: r["createdAt"]):
        state = "revoked" if record.get("revokedAt") is not None else "active"
        limits = f"{record['perHour'] or 'default'}/h, {record['burst'] or 'default'}/min"
        click.echo(f"{record['keyId']}  {state:7}  {' '.join(record['scopes']):16}  {limits:24}  {record['name']}")
    click.echo(f"{len(keys)} key(s)")


@api_key.command("revoke")
@click.argument("key_id")
@click.pass_context
def api_key_revoke(ctx: click.Context, key_id: str) -> None:
    """Revoke the key KEY_ID: every gateway refuses it from its next poll of the keys."""
    from orderflow.apikeys import revoke_key
    from orderflow.schemas.registry import codec_for

    settings = _as_user(ctx, OPERATOR)
    try:
        revoke_key(settings.kafka, codec_for(settings), key_id)
    except KeyError as exc:
        raise click.ClickException(f"no API key {key_id}") from exc
    click.echo(f"revoked {key_id}")


@main.command(cls=DevCommand)
@click.option("--fresh", is_flag=True, help="Wipe the local broker's and worker's data first.")
@click.option("--observe", is_flag=True, help="Also run Prometheus, with orderflow's alert rules, against the stack.")
@click.pass_context
def dev(ctx: click.Context, fresh: bool, observe: bool) -> None:
    """Run broker, topics, payment simulator, a worker and the gateway; Ctrl-C stops all."""
    from orderflow.stack import DevStack

    stack = DevStack(ctx.obj, fresh=fresh, echo=click.echo, observe=observe)
    signals = StopSignals()
    crashed = False
    try:
        stack.start()
        click.echo(stack.summary())
        # 0: no signal ended the wait, a process of the stack did (asked here,
        # before the stop below clears the stack's list of processes)
        crashed = signals.wait(extra_check=stack.crashed) == 0
    except StopRequested:
        click.echo("stopping what has started ...")
    finally:
        signals.stop_raising()  # a second signal must not cut the stop short
        stack.stop()
    if crashed:
        raise click.ClickException("a process of the stack exited; see the logs above")


# Its help is written here, so listing it imports nothing of the benchmark.
main.add_command(LazyCommand("bench", "orderflow.bench.cli:bench",
                             "Load the whole saga and measure it; its ceilings; GET load."))


if __name__ == "__main__":
    main(prog_name="orderflow")
