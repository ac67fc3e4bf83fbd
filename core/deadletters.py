"""Dead letters read back, and replayed to the topic they came from.

Consumes the ``deadletters`` topic by assignment, without a consumer group:
nothing is committed, so reading never changes what is there. Produces each
replayed dead letter to its source topic with its original key, value and
headers (less the ``x-orderflow-*`` headers the dead-lettering added) plus
``x-orderflow-replayed-from: <partition>:<offset>`` naming the dead letter
(the header names are ``deadletter_headers``'s).
A dead letter is named by its partition and offset in ``deadletters``, e.g.
``3:17`` (an offset alone is ambiguous across partitions).

Owns nothing else: ``agents/runtime/handling.py`` writes the dead letters, and the
agents handle a replay like any other message; one that fails again comes
back as a new dead letter that carries the replayed-from header.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from orderflow.deadletter_headers import PREFIX, REASON, REPLAYED_FROM, SOURCE_OFFSET, SOURCE_PARTITION, SOURCE_TOPIC
from orderflow.gateway.producer import producer_config
from orderflow.kafka_client import KafkaClient, as_client
from orderflow.schemas import catalog

__all__ = ["DeadLetter", "DeadLetterError", "NoSuchDeadLetter", "NotReplayable", "Replayed", "describe", "fetch",
           "parse_position", "preview", "read", "replay"]

TOPIC = catalog.DEAD_LETTERS.name


class DeadLetterError(RuntimeError):
    """A dead letter cannot be found, read or replayed."""


class NoSuchDeadLetter(DeadLetterError):
    """No dead letter at the position asked for."""


class NotReplayable(DeadLetterError):
    """A dead letter that names no source topic orderflow knows."""


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @property
    def position(self) -> str:
        return f"{self.partition}:{self.offset}"

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode(errors="replace")
        return None

    @property
    def reason(self) -> str:
        return self.header(REASON) or "(no reason given)"

    @property
    def source_topic(self) -> str | None:
        return self.header(SOURCE_TOPIC)

    @property
    def source(self) -> str:
        """Where it was read from, as ``topic[partition]@offset``."""
        return (f"{self.source_topic or '?'}[{self.header(SOURCE_PARTITION) or '?'}]"
                f"@{self.header(SOURCE_OFFSET) or '?'}")

    @property
    def replay_of(self) -> str | None:
        """The dead letter this one is a failed replay of, if it is one."""
        return self.header(REPLAYED_FROM)

    @property
    def original_headers(self) -> list[tuple[str, bytes]]:
        return [(k, v) for k, v in self.headers if not k.startswith(PREFIX)]


@dataclass(frozen=True)
class Replayed:
    dead_letter: str  # its position in deadletters
    topic: str
    partition: int
    offset: int


def parse_position(text: str) -> tuple[int, int]:
    """``"3:17"`` -> (3, 17)."""
    partition, sep, offset = text.partition(":")
    if not (sep and partition.isdigit() and offset.isdigit()):
        raise DeadLetterError(f"{text!r} is not PARTITION:OFFSET (e.g. 3:17)")
    return int(partition), int(offset)


def preview(data: bytes | None, width: int = 60) -> str:
    """A one-line look at a key or value: text if it is printable, else hex."""
    if data is None:
        return "(null)"
    try:
        text = data.decode()
    except UnicodeDecodeError:
        text = None
    if text is not None and text.isprintable():
        return repr(text if len(text) <= width else text[: width - 3] + "...")
    shown = data[: width // 2].hex()
    return f"0x{shown}{'...' if len(data) > width // 2 else ''} ({len(data)} bytes)"


def _consumer(kafka: KafkaClient | str) -> Consumer:
    return Consumer(as_client(kafka).config() | {"group.id": f"orderflow-dlq-{uuid.uuid4().hex[:8]}",
                     "enable.auto.commit": False, "auto.offset.reset": "earliest"})


def _letter(msg: Message) -> DeadLetter:
    partition, offset = _located(msg)
    return DeadLetter(partition, offset, msg.timestamp()[1], msg.key(), msg.value(), _headers_of(msg))


def _located(msg: Message) -> tuple[int, int]:
    """A consumed record's partition and offset (librdkafka sets both on every record it hands out)."""
    partition, offset = msg.partition(), msg.offset()
    if partition is None or offset is None:
        raise DeadLetterError("a consumed record without a partition or offset")
    return partition, offset


def _headers_of(msg: Message) -> tuple[tuple[str, bytes], ...]:
    found = msg.headers() or []
    pairs = found.items() if isinstance(found, dict) else found
    return tuple((name, value.encode() if isinstance(value, str) else value or b"") for name, value in pairs)


def _ranges(consumer: Consumer, timeout: float) -> dict[int, tuple[int, int]]:
    """Each partition's (first, end) offsets."""
    metadata = consumer.list_topics(TOPIC, timeout=timeout)
    if TOPIC not in metadata.topics or metadata.topics[TOPIC].error is not None:
        raise DeadLetterError(f"topic {TOPIC} not found; run `orderflow topics`")
    return {p: consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=timeout, cached=False)
            for p in metadata.topics[TOPIC].partitions}


def _consume(consumer: Consumer, starts: dict[int, int], ends: dict[int, int], timeout: float,
             ) -> list[DeadLetter]:
    """Every record from ``starts`` up to ``ends`` (exclusive), per partition;
    DeadLetterError after ``timeout`` seconds without progress."""
    pending = {p for p in starts if starts[p] < ends[p]}
    if not pending:
        return []
    consumer.assign([TopicPartition(TOPIC, p, starts[p]) for p in sorted(pending)])
    found: list[DeadLetter] = []
    deadline = time.monotonic() + timeout
    while pending:
        batch = consumer.consume(num_messages=500, timeout=0.1)  # waits for all 500 or the timeout
        for msg in batch:
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise DeadLetterError(f"reading {TOPIC}: {error}")
            partition, offset = _located(msg)
            if offset < ends[partition]:
                found.append(_letter(msg))
        if batch:
            deadline = time.monotonic() + timeout
        # the position passes the end even where the last offsets hold no record
        positions = consumer.position([TopicPartition(TOPIC, p) for p in pending])
        pending -= {tp.partition for tp in positions if tp.offset >= ends[tp.partition]}
        if pending and time.monotonic() > deadline:
            raise DeadLetterError(f"timed out reading {TOPIC} (partitions {sorted(pending)} not read to the end)")
    return found


def read(kafka: KafkaClient | str, *, source_topic: str | None = None, limit: int | None = None,
         timeout: float = 10.0) -> tuple[list[DeadLetter], int]:
    """The newest ``limit`` dead letters (all when None), from ``source_topic``
    only when given, oldest first; and how many the topic holds in all."""
    consumer = _consumer(kafka)
    try:
        ranges = _ranges(consumer, timeout)
        ends = {p: high for p, (_, high) in ranges.items()}
        # Without a filter the newest N overall are among the newest N of each partition.
        starts = {p: low if limit is None or source_topic else max(low, high - limit)
                  for p, (low, high) in ranges.items()}
        letters = _consume(consumer, starts, ends, timeout)
    finally:
        consumer.close()
    if source_topic is not None:
        letters = [d for d in letters if d.source_topic == source_topic]
    letters.sort(key=lambda d: (d.timestamp_ms, d.partition, d.offset))
    total = sum(high - low for low, high in ranges.values())
    if limit is not None:
        letters = letters[-limit:] if limit > 0 else []
    return letters, total


def fetch(kafka: KafkaClient | str, positions: Iterable[str], timeout: float = 10.0) -> list[DeadLetter]:
    """The dead letters at ``positions`` (``"partition:offset"``), in that order."""
    wanted = [parse_position(p) for p in positions]
    consumer = _consumer(kafka)
    try:
        ranges = _ranges(consumer, timeout)
        letters = []
        for partition, offset in wanted:
            low, high = ranges.get(partition, (0, 0))
            if not low <= offset < high:
                raise NoSuchDeadLetter(f"no dead letter at {partition}:{offset} "
                                      f"(partition {partition} holds offsets from {low} up to {high})")
            got = _consume(consumer, {partition: offset}, {partition: offset + 1}, timeout)
            if not got or got[0].offset != offset:
                raise NoSuchDeadLetter(f"no dead letter at {partition}:{offset}")
            letters.append(got[0])
        return letters
    finally:
        consumer.close()


def _target(letter: DeadLetter) -> str:
    topic = letter.source_topic
    if topic is None:
        raise NotReplayable(f"{letter.position} names no source topic; it was not dead-lettered by orderflow")
    try:
        return catalog.topic(topic).name
    except KeyError:
        raise NotReplayable(f"{letter.position}: source topic {topic!r} is not in the catalog") from None


def replay(kafka: KafkaClient | str, letters: Sequence[DeadLetter], timeout: float = 30.0) -> list[Replayed]:
    """Re-produce each dead letter to its source topic; all are checked before any is sent."""
    targets = [_target(letter) for letter in letters]
    producer = Producer(producer_config(kafka))
    done: dict[str, Replayed] = {}
    failed: list[str] = []

    def delivered(position: str) -> Callable[[KafkaError | None, Message], None]:
        def report(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                failed.append(f"{position}: {err}")
            else:
                done[position] = Replayed(position, msg.topic() or "", *_located(msg))
        return report

    for letter, topic in zip(letters, targets, strict=True):
        headers: list[tuple[str, str | bytes | None]] = [*letter.original_headers,
                                                         (REPLAYED_FROM, letter.position.encode())]
        producer.produce(topic, key=letter.key, value=letter.value, headers=headers,
                         on_delivery=delivered(letter.position))
    left = producer.flush(timeout)
    if failed or left:
        raise DeadLetterError(f"replay incomplete: {failed or f'{left} not acknowledged in {timeout}s'}"
                              f"; replayed: {sorted(done)}")
    return [done[letter.position] for letter in letters]


def describe(letter: DeadLetter) -> str:
    """One line of ``orderflow dlq list``."""
    replay_of = f"  replay-of={letter.replay_of}" if letter.replay_of else ""
    return (f"{letter.position:<9} {letter.source:<32} key={preview(letter.key, 40)}  "
            f"value={preview(letter.value)}{replay_of}  reason: {letter.reason}")
