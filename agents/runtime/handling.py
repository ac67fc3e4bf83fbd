"""What every agent does around its decision: decode the Kafka message into an
``Inbound``, guard the partition, dead-letter what cannot be handled, count,
and stop the worker when its own code keeps failing.

Consumes raw Faust events; produces to the dead-letter topic. A message that
cannot be decoded, or that its handler refuses (``Unhandleable``), goes to
``deadletters`` with its original key and bytes and the reason, source
topic, partition and offset in headers (``deadletter_headers``); the agent
then goes on with the next message, never skipping one silently. Any other
exception out of a handler is a bug, not a poison message: the message is
dead-lettered the same way (to be replayed once fixed) and the failure is
counted by the worker's ``FailStop``, which ends the worker when too many
come too fast (``failures``).

Each message is handled inside a span that continues the trace in its
``traceparent`` header (or starts one), and the outbox writes the current
trace into the headers of every record it sends (``tracing``); log lines
made meanwhile name the agent and the order (``logs``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from orderflow import tracing
from orderflow.agents.runtime.commits import handled_ack, refuse
from orderflow.agents.runtime.failures import FailStop, Unhandleable
from orderflow.deadletter_headers import REASON, SOURCE_OFFSET, SOURCE_PARTITION, SOURCE_TOPIC
from orderflow.logs import AGENT, ORDER_ID
from orderflow.metrics import AGENT_HANDLING, DEAD_LETTERS, MESSAGES_HANDLED, UNDECODABLE_MESSAGES
from orderflow.partitioning import partition_for_key
from orderflow.schemas import catalog
from orderflow.schemas.catalog import WrongWriter
from orderflow.schemas.codec import Codec, DecodeError
from orderflow.tables.validation import problems

if TYPE_CHECKING:
    import faust

    from orderflow.agents.runtime.progress import Progress
    from orderflow.agents.runtime.watchdog import SkipGuard

__all__ = ["Inbound", "Outbox", "Unhandleable", "WrongWriter", "run_agent"]

log = logging.getLogger(__name__)
DEAD_LETTER_REASONS = ("undecodable", "refused", "handler_failed")
# what a handler returns (applied, unchanged, replayed, ignored) or what became of its message
OUTCOMES = ("applied", "unchanged", "replayed", "ignored", "refused", "failed")
Handler = Callable[["Inbound"], Awaitable[str]]
RecordT = TypeVar("RecordT", bound=Mapping[str, Any])


@dataclass(frozen=True, slots=True)
class Inbound:
    """One decoded message and where it came from."""

    topic: str
    partition: int
    offset: int
    key: bytes
    kind: str  # the schema's short name, e.g. "PlaceOrder"
    record: dict[str, Any]

    @property
    def cause(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"

    def record_as(self, record_type: type[RecordT]) -> RecordT:
        """The record as the typed dict of its schema (``schemas.messages``);
        TypeError when the message is of another schema."""
        if record_type.__name__ != self.kind:
            raise TypeError(f"{self.cause} is a {self.kind}, not a {record_type.__name__}")
        return cast(RecordT, self.record)


class Outbox:
    """Sends records to catalog topics through the Faust producer, as one
    component (``writer``): a topic the catalog gives to another component is
    refused, so each topic keeps its single writer."""

    def __init__(self, app: faust.App, codec: Codec, writer: str | None = None,
                 topics: dict[str, faust.TopicT] | None = None) -> None:
        self._app = app
        self._codec = codec
        self._writer = writer
        self._topics: dict[str, faust.TopicT] = {} if topics is None else topics

    def as_writer(self, writer: str) -> Outbox:
        """This outbox, writing as component ``writer`` (a catalog id)."""
        if writer not in catalog.COMPONENTS:
            raise ValueError(f"{writer!r} is not a component of the catalog")
        return Outbox(self._app, self._codec, writer, self._topics)

    def _topic(self, name: str) -> faust.TopicT:
        if name not in self._topics:
            self._topics[name] = self._app.topic(name, key_type=bytes, value_type=bytes,
                                                 key_serializer="raw", value_serializer="raw")
        return self._topics[name]

    async def send(self, spec: catalog.TopicSpec, key: str, kind: str, record: Mapping[str, Any]) -> None:
        catalog.check_writer(self._writer, spec)
        schema = f"{catalog.NAMESPACE}.{kind}"
        if schema not in spec.value_schemas:
            raise ValueError(f"{kind} may not be written to {spec.name}")
        # the trace of the message being handled goes on with what it causes
        await self._topic(spec.name).send(key=key.encode(), value=self._codec.encode(schema, record),
                                          headers=tracing.headers_for_kafka() or None)

    async def send_raw(self, spec: catalog.TopicSpec, key: bytes | None, value: bytes | None,
                       headers: Mapping[str, bytes]) -> Awaitable[Any]:
        """Send, and return what resolves once the broker acknowledged the record."""
        catalog.check_writer(self._writer, spec)
        return await self._topic(spec.name).send(key=key, value=value, headers=dict(headers))


def decode(event: Any, specs: Mapping[str, catalog.TopicSpec], codec: Codec, partitions: int) -> Inbound:
    message = event.message
    spec = specs[message.topic]
    key = event.key
    if not isinstance(key, bytes) or not key:
        raise DecodeError("message has no key")
    expected = partition_for_key(key, spec.partitions or partitions)
    if message.partition != expected:
        # Keyed state lives on the key's murmur2 partition; a producer with
        # another partitioner would split an aggregate over two workers.
        raise DecodeError(f"key belongs to partition {expected}, not {message.partition} "
                          "(produce with Kafka's default murmur2 partitioner)")
    decoded = codec.decode_value(event.value, event.headers, spec)
    kind = decoded.schema.rsplit(".", 1)[-1]
    found = problems(kind, decoded.record)
    if found:
        raise DecodeError(f"impossible {kind}: {'; '.join(found)}")
    keyed_by = _key_field(decoded.record, spec.key)
    if keyed_by is not None and keyed_by.encode() != key:
        raise DecodeError(f"message key does not match its {spec.key}")
    return Inbound(message.topic, message.partition, message.offset, key, kind, decoded.record)


def _key_field(record: Mapping[str, Any], field: str) -> str | None:
    """The record's own copy of its key (envelopes keep it in ``data``)."""
    value = record.get(field)
    if value is None and isinstance(record.get("data"), Mapping):
        value = record["data"].get(field)
    return value if isinstance(value, str) else None


async def dead_letter(outbox: Outbox, event: Any, why: str, detail: str) -> Awaitable[Any]:
    """Send ``event`` to ``deadletters`` with the reason "``why``: ``detail``" (``why`` one of
    ``DEAD_LETTER_REASONS``, the classes the metric counts); returns its acknowledgement to await."""
    reason = f"{why.replace('_', ' ')}: {detail}"
    message = event.message
    headers = {
        REASON: reason.encode(errors="replace")[:1000],
        SOURCE_TOPIC: message.topic.encode(),
        SOURCE_PARTITION: str(message.partition).encode(),
        SOURCE_OFFSET: str(message.offset).encode(),
    }
    for name, value in (event.headers or {}).items():
        headers.setdefault(name, value)
    delivered = await outbox.send_raw(catalog.DEAD_LETTERS, event.key, event.value, headers)
    DEAD_LETTERS.labels(message.topic, why).inc()
    return delivered


async def run_agent(name: str, stream: faust.StreamT, specs: Mapping[str, catalog.TopicSpec],
                    codec: Codec, partitions: int, outbox: Outbox, handler: Handler,
                    guard: SkipGuard | None = None, failstop: FailStop | None = None,
                    progress: Progress | None = None) -> None:
    """The loop of every agent: check nothing was skipped, decode, handle,
    count; dead-letter failures; ack only a message that was dealt with; stop
    the worker when ``failstop`` trips; tell ``progress`` what was handled.

    Faust acks the current message itself when the agent leaves its loop,
    also when it is cancelled or fails in the middle of that message (a
    worker stopping, a table already closed), and the next commit would then
    pass a message whose effects were never all written. So Faust's acks are
    off and each message is acked here, after its handler or its dead letter.
    """
    stream.enable_acks = False
    for topic in specs:  # every series at 0 from the start, so rates and alerts see the first one
        for why in DEAD_LETTER_REASONS:
            DEAD_LETTERS.labels(topic, why)
    for outcome in OUTCOMES:
        MESSAGES_HANDLED.labels(name, outcome)
    AGENT_HANDLING.labels(name)
    AGENT.set(name)  # this agent's task: every log line it makes names it
    async for event in stream.events():
        message = event.message
        if failstop is not None and failstop.tripped is not None:
            await failstop.halt()  # the worker is exiting: this message stays unacked, read again
        if guard is not None and not await guard.admit(name, message.tp, message.offset):
            refuse(message)
            await stream.ack(event)  # settled, but never committed: it is read again
            continue
        failed = await _deal_with(name, stream, event, specs, codec, partitions, outbox, handler)
        if failed is not None and failstop is not None and failstop.record(name, failed.cause, failed.error):
            await _settle(stream, event, failed.delivered)
            await failstop.stop_worker()
            await failstop.halt()  # reached only if the exit did not end the process
        with handled_ack():
            await stream.ack(event)
        if progress is not None:
            progress.handled(name, message.tp, message.offset, message.timestamp)


@dataclass(frozen=True, slots=True)
class _Failed:
    """A handler's unexpected exception, after its message was dead-lettered."""

    cause: str
    error: Exception
    delivered: Awaitable[Any]  # the dead letter's acknowledgement


async def _settle(stream: faust.StreamT, event: Any, delivered: Awaitable[Any]) -> None:
    """Before the worker stops: the dead letter is on the broker, then the message is acked."""
    await delivered
    with handled_ack():
        await stream.ack(event)


async def _deal_with(name: str, stream: faust.StreamT, event: Any, specs: Mapping[str, catalog.TopicSpec],
                     codec: Codec, partitions: int, outbox: Outbox, handler: Handler) -> _Failed | None:
    """Handle or dead-letter one message; a handler's unexpected exception is returned."""
    message = event.message
    try:
        inbound = decode(event, specs, codec, partitions)
    except DecodeError as exc:
        UNDECODABLE_MESSAGES.labels(message.topic).inc()
        log.warning("%s: undecodable %s[%d]@%d: %s", name, message.topic, message.partition,
                    message.offset, exc.reason)
        await dead_letter(outbox, event, "undecodable", exc.reason)
        return None
    order_id = _key_field(inbound.record, "orderId")  # the order the message is about, where it names one
    ORDER_ID.set(order_id)  # for the log lines of this message
    started = time.perf_counter()
    with tracing.span(f"{name} {inbound.kind}", tracing.SpanKind.CONSUMER, tracing.parent_from_kafka(event.headers),
                      _span_attributes(inbound, order_id) if tracing.enabled() else None) as span:
        try:
            outcome = await handler(inbound)
        except Unhandleable as exc:  # the message's fault: dead-lettered, the agent goes on
            log.warning("%s: refused %s: %s", name, inbound.cause, exc)
            MESSAGES_HANDLED.labels(name, "refused").inc()
            tracing.fail(span, f"refused: {exc}")
            await dead_letter(outbox, event, "refused", str(exc))
            return None
        except Exception as exc:  # our code's fault: dead-lettered to replay after the fix, and counted
            if stream.app.should_stop:
                raise  # failed because the worker is stopping: not acked, handled again after the restart
            log.exception("%s: handler failed on %s", name, inbound.cause)
            MESSAGES_HANDLED.labels(name, "failed").inc()
            tracing.fail(span, f"handler failed: {type(exc).__name__}")
            delivered = await dead_letter(outbox, event, "handler_failed", f"{type(exc).__name__}: {exc}")
            return _Failed(inbound.cause, exc, delivered)
        if span is not None:
            span.set_attribute("orderflow.outcome", outcome)
    AGENT_HANDLING.labels(name).observe(time.perf_counter() - started)
    MESSAGES_HANDLED.labels(name, outcome).inc()
    return None


def _span_attributes(inbound: Inbound, order_id: str | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {"messaging.system": "kafka", "messaging.destination.name": inbound.topic,
                                  "messaging.kafka.destination.partition": inbound.partition,
                                  "messaging.kafka.message.offset": inbound.offset}
    if order_id is not None:
        attributes["orderflow.order_id"] = order_id
    return attributes
