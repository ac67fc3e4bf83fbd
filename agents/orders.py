"""Agent ``track_orders``: consumes orders.commands (PlaceOrder), owns the
orders table (the only writer of its rows). Produces nothing yet.

A thin adapter: decode, read the row, ask ``tables.orders`` what to store,
write the row.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from orderflow.metrics import MESSAGES_HANDLED, UNDECODABLE_MESSAGES
from orderflow.schemas import catalog
from orderflow.schemas.codec import DecodeError
from orderflow.tables.orders import accept_place_order

if TYPE_CHECKING:
    import faust

    from orderflow.agents.app import Pipeline

__all__ = ["register"]

log = logging.getLogger(__name__)
AGENT = "track_orders"


def register(pipeline: Pipeline, commands: faust.TopicT) -> None:
    codec, orders = pipeline.codec, pipeline.orders
    spec = catalog.ORDER_COMMANDS
    state_schema = catalog.ORDERS_TABLE.value_schema

    @pipeline.app.agent(commands, name=AGENT)
    async def track_orders(stream: faust.StreamT) -> None:
        async for event in stream.events():
            message = event.message
            try:
                command = codec.decode_value(event.value, event.headers, spec).record
                if event.key != command["orderId"].encode():
                    raise DecodeError("message key does not match orderId")
            except DecodeError as exc:
                UNDECODABLE_MESSAGES.labels(spec.name).inc()
                log.warning("undecodable message %s[%d]@%d: %s", message.topic,
                            message.partition, message.offset, exc.reason)
                continue
            existing = orders.get(event.key)
            row = accept_place_order(
                None if existing is None else codec.decode(existing).record,
                command,
                now_ms=int(time.time() * 1000),
            )
            if row is None:
                MESSAGES_HANDLED.labels(AGENT, "unchanged").inc()
                continue
            orders[event.key] = codec.encode(state_schema, row)
            MESSAGES_HANDLED.labels(AGENT, "applied").inc()
