"""The do-nothing Faust agent of the ceilings, run as its own process:
``python -m orderflow.bench.noop_agent BOOTSTRAP MESSAGES RESULT_PATH``.

Consumes ``catalog.BENCH_EVENTS`` from the earliest offset (raw bytes, no
decoding, no table, memory store, no web server) with a fresh consumer group;
produces RESULT_PATH, a JSON file with the events per second between its
first and its MESSAGES-th event, then keeps running until it is terminated.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

import faust

from orderflow.schemas import catalog

__all__ = ["create_app"]


def create_app(bootstrap_servers: str, messages: int, result: Path) -> faust.App:
    app = faust.App(
        f"orderflow-bench-noop-{uuid.uuid4().hex[:6]}",
        broker=";".join(f"kafka://{s}" for s in bootstrap_servers.split(",")),
        store="memory://", autodiscover=False, web_enabled=False,
        key_serializer="raw", value_serializer="raw", consumer_auto_offset_reset="earliest",
        broker_max_poll_records=500,
    )
    topic = app.topic(catalog.BENCH_EVENTS.name, key_type=bytes, value_type=bytes,
                      key_serializer="raw", value_serializer="raw")

    @app.agent(topic)
    async def noop(stream: faust.StreamT) -> None:
        count, first = 0, 0.0
        async for _value in stream:
            count += 1
            if count == 1:
                first = time.monotonic()
            elif count == messages:
                seconds = time.monotonic() - first
                result.write_text(json.dumps({"messages": count, "seconds": seconds,
                                              "events_per_s": (count - 1) / seconds}))

    return app


def main() -> None:
    bootstrap_servers, messages, result = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    app = create_app(bootstrap_servers, messages, result)
    faust.Worker(app, loglevel="WARNING", redirect_stdouts=False).execute_from_commandline()


if __name__ == "__main__":
    main()
