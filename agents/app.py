"""Builds the Faust app of orderflow from the settings: topics, tables, agents
and the worker's web views. Nothing here runs at import; ``create_app`` is
called once by the worker entry point (or a test).

Choices made on purpose (see the Faust field notes):
- processing_guarantee at_least_once: exactly_once is unsafe in faust 0.15.x;
  every state change is idempotent instead, so a replay changes nothing.
- keys and values are raw bytes at the Faust level; our codec reads the Avro
  framing, and table keys are ``bytes`` so table routing hashes the same key
  bytes the producers hash (no JSON-encoded table keys).
- topic_allow_declare False: topics, changelogs included, are created from the
  catalog by ``orderflow.topics`` with the partition counts it declares.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust

from orderflow.agents import orders, web
from orderflow.agents.routing import TableRouter
from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec
from orderflow.schemas.registry import codec_for
from orderflow.settings import Settings

__all__ = ["Pipeline", "create_app"]

# Each table partition opens its own RocksDB; the Faust default cache of 2 GiB
# per partition would not fit 12 partitions on a small machine.
ROCKSDB_OPTIONS = {"block_cache_size": 16 << 20, "write_buffer_size": 8 << 20,
                   "max_write_buffer_number": 2}


@dataclass(frozen=True)
class Pipeline:
    """The app with the handles tests and views need."""

    app: faust.App
    codec: Codec
    orders: faust.Table
    orders_router: TableRouter


def faust_broker_url(bootstrap_servers: str) -> str:
    return ";".join(f"kafka://{s.strip()}" for s in bootstrap_servers.split(",") if s.strip())


def create_app(settings: Settings, codec: Codec | None = None) -> Pipeline:
    codec = codec or codec_for(settings)
    app = faust.App(
        settings.app_id,
        broker=faust_broker_url(settings.kafka_servers),
        store="rocksdb://",
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
        broker_max_poll_records=500,
        web_host=settings.advertised_worker_host,
        web_port=settings.worker_port,
        web_bind=settings.worker_bind or settings.advertised_worker_host,
        canonical_url=settings.canonical_worker_url,
        web_in_thread=False,
    )
    orders_table = app.Table(
        catalog.ORDERS_TABLE.name,
        key_type=bytes,
        value_type=bytes,
        partitions=settings.partitions,
        options=ROCKSDB_OPTIONS,
    )
    pipeline = Pipeline(
        app=app,
        codec=codec,
        orders=orders_table,
        orders_router=TableRouter(app, orders_table, settings.partitions, settings.request_timeout_s),
    )
    orders.register(pipeline, source_topic(app, catalog.ORDER_COMMANDS, settings))
    web.register(pipeline)
    return pipeline


def source_topic(app: faust.App, spec: catalog.TopicSpec, settings: Settings) -> faust.TopicT:
    """A Faust topic of raw bytes for a catalog topic."""
    return app.topic(
        spec.name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=spec.partitions or settings.partitions,
    )
