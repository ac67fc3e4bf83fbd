"""The worker's consumer asks the broker for fuller fetches than Faust's
default (fetch.min.bytes 1, a fixed 1.5 s wait): checked on Faust's and
aiokafka's real objects, so an upgrade that moves the attributes fails here."""

from __future__ import annotations

import asyncio
import inspect

import aiokafka

from orderflow.agents.app import create_app
from orderflow.settings import Settings


async def test_the_settings_reach_the_consumer_aiokafka_starts_its_fetcher_with() -> None:
    settings = Settings(_env_file=None, bootstrap_servers="127.0.0.1:9", fetch_min_bytes=12345,
                        fetch_max_wait_s=0.07)
    app = create_app(settings).app
    app.loop = asyncio.get_running_loop()
    consumer = app.consumer._thread._create_worker_consumer(app.transport)
    try:
        assert (consumer._fetch_min_bytes, consumer._fetch_max_wait_ms) == (12345, 70)
    finally:
        await consumer.stop()
    # ...and aiokafka 0.14 builds its fetcher from exactly those attributes
    start = inspect.getsource(aiokafka.AIOKafkaConsumer.start)
    assert "fetch_min_bytes=self._fetch_min_bytes" in start and "fetch_max_wait_ms=self._fetch_max_wait_ms" in start
