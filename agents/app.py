"""Builds the Faust app of orderflow from the settings: topics, tables, agents,
the payment-timeout timer and the worker's web views. Nothing here runs at
import; ``create_app`` is called once by the worker entry point (or a test).

Choices made on purpose (see the Faust field notes):
- processing_guarantee at_least_once: exactly_once is unsafe in faust 0.15.x;
  every state change is idempotent instead, so a replay changes nothing.
- keys and values are raw bytes at the Faust level; our codec reads the Avro
  framing, and table keys are ``bytes`` so table routing hashes the same key
  bytes the producers hash (no JSON-encoded table keys).
- topic_allow_declare False: topics, changelogs included, are created from the
  catalog by ``orderflow.topics`` with the partition counts it declares.
- commits wait for changelog writes, and a failed send stops the worker
  before a commit (``agents.runtime.durability``); table rows reach RocksDB only at
  that commit's checkpoint, once their changelog records are acknowledged
  (``agents.runtime.checkpoints``), so a crashed worker keeps its local state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import faust

from orderflow.agents import (
    customers,
    deliveries,
    emails,
    notification_sender,
    order_census,
    orders,
    payments,
    prices,
    stock,
    timeouts,
    web,
)
from orderflow.agents.routing import TableRouter
from orderflow.agents.runtime import Progress, install_repairs, measure_progress
from orderflow.agents.runtime.checkpoints import STORE_URL
from orderflow.agents.runtime.durability import DurableApp, FetchSizing, SafeTopic
from orderflow.agents.runtime.failures import FailStop
from orderflow.agents.runtime.handling import Handler, Outbox, run_agent
from orderflow.agents.runtime.rows import Rows, RowT
from orderflow.agents.runtime.watchdog import SkipGuard, StallWatch
from orderflow.agents.watchers import Watchers
from orderflow.certs import client_context, serving_context
from orderflow.readiness import BrokerProbe, admin_ping
from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec
from orderflow.schemas.registry import codec_for
from orderflow.settings import Settings

__all__ = ["Pipeline", "create_app"]

# Each table partition opens its own RocksDB; the Faust default cache of 2 GiB
# per partition would not fit 6 tables x 12 partitions on a small machine.
ROCKSDB_OPTIONS = {"block_cache_size": 8 << 20, "write_buffer_size": 4 << 20,
                   "max_write_buffer_number": 2}
PRODUCER_LINGER_S = 0.005
PRODUCER_BATCH_BYTES = 256 << 10


@dataclass
class Pipeline:
    """The app and what its agents, timer and views share."""

    app: DurableApp
    settings: Settings
    codec: Codec
    outbox: Outbox
    stall_watch: StallWatch
    skip_guard: SkipGuard
    failstop: FailStop  # one failure budget for all the worker's agents
    broker: BrokerProbe  # for /readyz: is Kafka reachable (asked lazily, answers cached)
    progress: Progress  # what the agents handled, for the lag gauges
    tables: dict[str, Any] = field(default_factory=dict)
    routers: dict[str, TableRouter] = field(default_factory=dict)
    watchers: Watchers = field(default_factory=Watchers)

    def rows(self, spec: catalog.TableSpec, row_type: type[RowT], writer: str | None = None) -> Rows[RowT]:
        """The rows of table ``spec`` as ``row_type``; written only by ``writer``
        (the table's writer in the catalog), read-only for anyone else."""
        return Rows(self.tables[spec.name], self.codec, spec, row_type, writer)

    def outbox_for(self, writer: str) -> Outbox:
        """The outbox of component ``writer``: it may send only to its own topics."""
        return self.outbox.as_writer(writer)

    def add_agent(self, name: str, sources: tuple[catalog.TopicSpec, ...], handler: Handler,
                  around: Callable[[], AbstractAsyncContextManager[Any]] | None = None) -> None:
        """A Faust agent over co-partitioned ``sources`` that hands each message to
        ``handler`` through ``run_agent`` (decode, dead-letter, count);
        ``around`` wraps the agent's life (e.g. an HTTP client session)."""
        specs = {spec.name: spec for spec in sources}
        self.stall_watch.watch(name, list(specs))
        self.progress.reads(name, specs)
        watched = self.stall_watch.wrap(name, handler)

        async def agent(stream: faust.StreamT) -> None:
            async with around() if around is not None else contextlib.nullcontext():
                await run_agent(name, stream, specs, self.codec, self.settings.partitions, self.outbox_for(name),
                                watched, self.skip_guard, self.failstop, self.progress)

        self.app.agent(self.source_topic(*sources), name=name)(agent)

    def source_topic(self, *specs: catalog.TopicSpec) -> faust.TopicT:
        """One Faust topic of raw bytes over co-partitioned catalog topics."""
        return self.app.topic(*(s.name for s in specs), key_type=bytes, value_type=bytes,
                              key_serializer="raw", value_serializer="raw",
                              partitions=self.settings.partitions)


def faust_broker_url(bootstrap_servers: str) -> str:
    return ";".join(f"kafka://{s.strip()}" for s in bootstrap_servers.split(",") if s.strip())


def _faust_app(settings: Settings) -> DurableApp:
    return DurableApp(
        settings.app_id,
        fetch_sizing=FetchSizing(settings.fetch_min_bytes, int(settings.fetch_max_wait_s * 1000)),
        broker=faust_broker_url(settings.kafka_servers),
        broker_credentials=settings.kafka.faust_credentials(),
        store=STORE_URL,
        datadir=str(settings.data_dir),
        autodiscover=False,
        processing_guarantee="at_least_once",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # One produce request per record cost more worker CPU (a socket write
        # each) than anything the agents do; a few ms of linger lets a
        # message's outputs and changelog writes share requests. The commit
        # still flushes them all before offsets move.
        producer_linger=PRODUCER_LINGER_S,
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        broker_max_poll_records=500,
        broker_commit_interval=settings.commit_interval_s,
        broker_session_timeout=settings.group_session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.group_session_timeout_s / 3),
        consumer_group_instance_id=settings.worker_instance_id or None,
        web_host=settings.advertised_worker_host,
        web_port=settings.worker_port,
        web_bind=settings.worker_bind or settings.advertised_worker_host,
        canonical_url=settings.canonical_worker_url,
        web_ssl_context=serving_context(settings.worker_tls_cert_file, settings.worker_tls_key_file),
        web_in_thread=False,
        Topic=SafeTopic,
    )


def _velocity_table(app: faust.App, settings: Settings) -> Any:
    """Orders and amount per customer in tumbling windows of the message time.

    Windowed keys are (customerId, window) tuples, so the key is a str (JSON);
    it is only read and written inside the customer's own stream.
    """
    window = settings.velocity_window_s
    table = app.Table(catalog.VELOCITY_TABLE.name, key_type=str, value_type=bytes, default=bytes,
                      partitions=settings.partitions, options=ROCKSDB_OPTIONS)
    return table.tumbling(window, expires=timedelta(seconds=2 * window)).relative_to_stream()


def create_app(settings: Settings, codec: Codec | None = None) -> Pipeline:
    app = _faust_app(settings)
    install_repairs(app, settings.kafka)
    codec = codec or codec_for(settings)
    pipeline = Pipeline(app=app, settings=settings, codec=codec, outbox=Outbox(app, codec),
                        stall_watch=StallWatch(app, settings.stall_timeout_s),
                        skip_guard=SkipGuard(lambda: app.consumer),
                        failstop=FailStop(app, settings.handler_failure_limit, settings.handler_failure_window_s,
                                          settings.handler_failure_exit_delay_s),
                        broker=BrokerProbe(admin_ping(settings.kafka)),
                        progress=measure_progress(app, settings.kafka))
    owners_tls = client_context(settings.tls_ca_file)  # one context for every router's forwarded reads
    for spec in catalog.TABLES:
        if spec.stored_in is not None:  # rows in another table's store (declared before it)
            pipeline.tables[spec.name] = pipeline.tables[spec.stored_in]
            continue
        if spec is catalog.VELOCITY_TABLE:
            pipeline.tables[spec.name] = _velocity_table(app, settings)
            continue
        table = app.Table(spec.name, key_type=bytes, value_type=bytes,
                          partitions=settings.partitions, options=ROCKSDB_OPTIONS)
        pipeline.tables[spec.name] = table
        # a forwarded long-poll may wait up to long_poll_max_s on the owner
        pipeline.routers[spec.name] = TableRouter(app, table, settings.partitions,
                                                  settings.request_timeout_s + settings.long_poll_max_s,
                                                  owners_tls)
    saga = orders.register(pipeline)
    timeouts.register(pipeline, saga)
    order_census.register(pipeline, saga)
    stock.register(pipeline)
    prices.register(pipeline)
    payments.register(pipeline)
    customers.register(pipeline)
    emails.register(pipeline)
    notification_sender.register(pipeline)
    deliveries.register(pipeline)
    web.register(pipeline, saga.census)
    pipeline.stall_watch.start()
    pipeline.skip_guard.start(app)
    return pipeline
