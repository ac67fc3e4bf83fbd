"""The ``orderflow bench`` command group (registered by ``orderflow.cli``).

``orderflow bench [OPTIONS]`` runs the load harness (and with ``--ceilings``
the ceilings on the same broker afterwards); ``orderflow bench ceilings``
measures only the ceilings; ``orderflow bench reads`` loads GET
/api/v1/orders/{id}. Consumes the settings from the parent command; writes
into ``--out``. Everything heavy is imported when a command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import click

__all__ = ["bench"]


def _target_or_stack(ctx: click.Context, out: Path, workers: int, bootstrap: str | None,
                     gateway: str | None, app_id: str | None, token: str | None = None):
    """A context manager giving the Target: an existing stack (--gateway) or our own."""
    import contextlib

    from orderflow.bench.target import Target, local_ca, local_token, own_stack

    settings = ctx.obj
    if gateway:
        if not bootstrap:
            raise click.UsageError("--gateway needs --bootstrap (the stack's broker) too")
        reader, producer = _kafka_clients(settings, bootstrap)
        return contextlib.nullcontext(Target(reader, gateway.rstrip("/"), app_id or settings.app_id,
                                             settings.partitions, token=token or local_token(settings),
                                             ca_file=settings.tls_ca_file or local_ca(settings), producer=producer))
    return own_stack(settings, out / "run", workers, bootstrap, echo=click.echo)


def _kafka_clients(settings, bootstrap: str):
    """How the bench reads and produces on a running stack's broker: the settings' own credentials,
    or, beside a secured `orderflow dev` with none configured, its operator and external producer."""
    from orderflow.dev_kafka import client_as, uses_dev_kafka_users
    from orderflow.kafka_acls import OPERATOR, PRODUCER

    if uses_dev_kafka_users(settings, bootstrap):
        return client_as(settings, OPERATOR, bootstrap), client_as(settings, PRODUCER, bootstrap)
    return settings.kafka.as_servers(bootstrap), None


@click.group(invoke_without_command=True)
@click.option("--rate", type=click.FloatRange(min=0.1), default=100.0, show_default=True,
              help="Orders per second, open loop (the first step with --ramp).")
@click.option("--duration", type=click.FloatRange(min=1), default=30.0, show_default=True,
              help="Seconds of load (per step with --ramp).")
@click.option("--ingress", type=click.Choice(["kafka", "http"]), default="kafka", show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Faust workers of the stack the bench starts.")
@click.option("--products", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--customers", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--zipf", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Popularity exponent of the products (0: uniform).")
@click.option("--lines", type=(click.IntRange(1, 100), click.IntRange(1, 100)), default=(1, 5), show_default=True,
              help="Fewest and most lines per order.")
@click.option("--price-rate", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="PriceUpdated records per second to the prices topic, in parallel.")
@click.option("--decline-share", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of orders paid with pm_insufficient_funds.")
@click.option("--cancel-share", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of orders cancelled once confirmed.")
@click.option("--ramp", is_flag=True, help="Step the rate up until a step is not sustained.")
@click.option("--ramp-factor", type=click.FloatRange(min=1.05), default=1.5, show_default=True)
@click.option("--max-steps", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--drain-timeout", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="Seconds to wait for the last outcomes after the load.")
@click.option("--ceilings", "with_ceilings", is_flag=True, help="Measure the ceilings on the same broker after.")
@click.option("--bootstrap", default=None, help="Use this broker instead of starting a fresh one.")
@click.option("--gateway", default=None, help="Load this running stack (with --bootstrap) instead of starting one.")
@click.option("--app-id", default=None, help="With --gateway: the stack's app id (its consumer group).")
@click.option("--token", default=None, help="With --gateway: the bearer token to send (default: one minted "
              "from the local signing key, ORDERFLOW_RUN_DIR/auth, if there is one).")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("bench-results"), show_default=True)
@click.pass_context
def bench(ctx: click.Context, rate: float, duration: float, ingress: str, workers: int, products: int,
          customers: int, zipf: float, lines: tuple[int, int], price_rate: float, decline_share: float,
          cancel_share: float, ramp: bool, ramp_factor: float, max_steps: int, drain_timeout: float,
          with_ceilings: bool, bootstrap: str | None, gateway: str | None, app_id: str | None,
          token: str | None, seed: int, out: Path) -> None:
    """Open-loop load through the whole saga: latency to each order's outcome,
    throughput, lag, CPU; JSON, markdown and a PNG in --out."""
    if ctx.invoked_subcommand is not None:
        return
    from orderflow.bench.config import BenchConfig, Ingress
    from orderflow.bench.report import write
    from orderflow.bench.run import run_bench

    if lines[0] > lines[1]:
        raise click.UsageError("--lines: the first number is the fewest")
    config = BenchConfig(rate=rate, duration=duration, ingress=cast(Ingress, ingress), workers=workers,
                         products=products,
                         customers=customers, zipf=zipf, min_lines=lines[0], max_lines=lines[1],
                         price_rate=price_rate, decline_share=decline_share, cancel_share=cancel_share,
                         ramp=ramp, ramp_factor=ramp_factor, max_steps=max_steps, drain_timeout=drain_timeout,
                         out=out, seed=seed)
    with _target_or_stack(ctx, out, workers, bootstrap, gateway, app_id, token) as target:
        result = run_bench(config, target, echo=click.echo)
        if with_ceilings and not target.secured_kafka:
            from orderflow.bench.ceilings import measure_ceilings, with_ratios
            from orderflow.kafka_client import as_client

            result["ceilings"] = with_ratios(
                measure_ceilings(ctx.obj, as_client(target.kafka).servers, out, echo=click.echo), result)
    if with_ceilings and "ceilings" not in result:
        # the ceilings' tools speak plain Kafka: on a broker of their own, once the stack is down
        from orderflow.bench.ceilings import fresh_broker, measure_ceilings, with_ratios

        click.echo("ceilings on a plain broker of their own (the run's broker is secured)")
        with fresh_broker(ctx.obj, out / "run", echo=click.echo) as servers:
            result["ceilings"] = with_ratios(measure_ceilings(ctx.obj, servers, out, echo=click.echo), result)
    paths = write(result, out)
    click.echo(paths["markdown"].read_text())
    click.echo("wrote " + ", ".join(str(p) for p in paths.values()))


@bench.command()
@click.option("--messages", type=click.IntRange(min=1000), default=200_000, show_default=True,
              help="Records each measurement reads or writes.")
@click.option("--bootstrap", default=None, help="Use this broker instead of starting a fresh one.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("bench-results"), show_default=True)
@click.pass_context
def ceilings(ctx: click.Context, messages: int, bootstrap: str | None, out: Path) -> None:
    """Kafka's producer and consumer perf tools, raw aiokafka and confluent-kafka
    consume loops and a do-nothing Faust agent, on one broker, with records of
    the pipeline's size."""
    import json

    from orderflow.bench.ceilings import (
        ceilings_markdown,
        fresh_broker,
        measure_ceilings,
    )

    out.mkdir(parents=True, exist_ok=True)
    with fresh_broker(ctx.obj, out / "run", bootstrap, echo=click.echo) as servers:
        figures = measure_ceilings(ctx.obj, servers, out, messages=messages, echo=click.echo)
    (out / "ceilings.json").write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    (out / "ceilings.md").write_text(ceilings_markdown(figures), encoding="utf-8")
    click.echo(ceilings_markdown(figures))


@bench.command()
@click.option("--rate", type=click.FloatRange(min=1), default=1000.0, show_default=True,
              help="GET requests per second, open loop.")
@click.option("--duration", type=click.FloatRange(min=1), default=20.0, show_default=True)
@click.option("--orders", type=click.IntRange(min=1), default=200, show_default=True,
              help="Orders placed first; the reads pick among them.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--bootstrap", default=None, help="Use this broker instead of starting a fresh one.")
@click.option("--gateway", default=None, help="Read from this running stack (with --bootstrap).")
@click.option("--app-id", default=None, help="With --gateway: the stack's app id.")
@click.option("--token", default=None, help="With --gateway: the bearer token to send (default: one minted "
              "from the local signing key, ORDERFLOW_RUN_DIR/auth, if there is one).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("bench-results"), show_default=True)
@click.pass_context
def reads(ctx: click.Context, rate: float, duration: float, orders: int, workers: int, bootstrap: str | None,
          gateway: str | None, app_id: str | None, token: str | None, out: Path) -> None:
    """GET /api/v1/orders/{id} under open-loop load: requests/s and latency percentiles."""
    import json

    from orderflow.bench.http_read import read_load, reads_markdown

    out.mkdir(parents=True, exist_ok=True)
    with _target_or_stack(ctx, out, workers, bootstrap, gateway, app_id, token) as target:
        figures = read_load(target, rate=rate, duration=duration, orders=orders, echo=click.echo)
    (out / "reads.json").write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    click.echo(reads_markdown(figures))
