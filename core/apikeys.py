"""The API keys in Kafka: the operator's writes and everyone's reads of the
compacted ``auth.api-keys`` topic (one partition, keyed by keyId; the last
record of a key is its state; the pure rules are ``tables/api_keys.py``).

- ``issue_key`` / ``revoke_key``: the operator's ``orderflow api-key``
  commands, the topic's one writer (``catalog.OPERATOR_TOOLS``).
- ``read_keys``: the whole topic read once (``orderflow api-key list``).
- ``KeyFollower``: the gateway's copy, read whole at start and then followed
  by a thread, so a key issued or revoked on any host counts on every
  gateway within a poll (no consumer group: nothing is committed, every
  gateway reads everything).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from orderflow.gateway.producer import producer_config
from orderflow.kafka_client import KafkaClient, as_client
from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec, DecodeError
from orderflow.schemas.messages import ApiKey
from orderflow.tables import api_keys
from orderflow.tables.access import Scope

__all__ = ["KeyFollower", "issue_key", "read_keys", "revoke_key"]

log = logging.getLogger(__name__)
TOPIC = catalog.API_KEYS
SCHEMA = TOPIC.default_schema


def _now_ms() -> int:
    return int(time.time() * 1000)


def _consumer(kafka: KafkaClient | str) -> Consumer:
    # A group id librdkafka requires; nothing is ever committed under it.
    return Consumer(as_client(kafka).config() | {"group.id": f"orderflow-keys-{uuid.uuid4().hex[:8]}",
                     "enable.auto.commit": False, "enable.partition.eof": True})


def _record_of(codec: Codec, msg: Message) -> ApiKey | None:
    try:
        decoded = codec.decode(msg.value())
    except DecodeError as exc:  # not the operator's tool: skip it, loudly
        log.error("auth.api-keys@%s holds an unreadable record (%s): ignored", msg.offset(), exc.reason)
        return None
    if decoded.schema != SCHEMA:
        log.error("auth.api-keys@%s holds a %s, not an ApiKey: ignored", msg.offset(), decoded.schema)
        return None
    record: ApiKey = decoded.record  # type: ignore[assignment]  # the schema says so
    return record


def _read_to_end(consumer: Consumer, codec: Codec, into: dict[str, ApiKey], timeout_s: float) -> bool:
    """Apply records to ``into`` until the partition's end; whether it was reached in time."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        error = msg.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                return True
            log.warning("reading auth.api-keys: %s", error)
            continue
        record = _record_of(codec, msg)
        if record is not None:
            into[record["keyId"]] = record
    return False


def read_keys(kafka: KafkaClient | str, codec: Codec, timeout_s: float = 15.0) -> dict[str, ApiKey]:
    """Every key's current record, by key id."""
    consumer = _consumer(kafka)
    try:
        consumer.assign([TopicPartition(TOPIC.name, 0, OFFSET_BEGINNING)])
        keys: dict[str, ApiKey] = {}
        if not _read_to_end(consumer, codec, keys, timeout_s):
            raise TimeoutError(f"{TOPIC.name} could not be read to its end in {timeout_s:.0f} s")
        return keys
    finally:
        consumer.close()


def _write(kafka: KafkaClient | str, codec: Codec, record: ApiKey) -> None:
    catalog.check_writer(catalog.OPERATOR_TOOLS, TOPIC)
    producer = Producer(producer_config(kafka))
    failures: list[KafkaError] = []
    producer.produce(TOPIC.name, key=record["keyId"].encode(), value=codec.encode(SCHEMA, record),
                     on_delivery=lambda err, _msg: failures.append(err) if err is not None else None)
    if producer.flush(15.0) or failures:
        raise KafkaException(failures[0] if failures else KafkaError(KafkaError._MSG_TIMED_OUT))


def issue_key(kafka: KafkaClient | str, codec: Codec, name: str, scopes: frozenset[Scope],
              per_hour: int = 0, burst: int = 0) -> api_keys.IssuedKey:
    """A new key, stored (hashed) before it is returned."""
    issued = api_keys.issue(name, scopes, per_hour, burst, _now_ms())
    _write(kafka, codec, issued.record)
    return issued


def revoke_key(kafka: KafkaClient | str, codec: Codec, key_id: str) -> ApiKey:
    """Revoke a key by id; KeyError if there is no such key."""
    record = read_keys(kafka, codec).get(key_id)
    if record is None:
        raise KeyError(key_id)
    ended = api_keys.revoked(record, _now_ms())
    if ended is not record:
        _write(kafka, codec, ended)
    return ended


class KeyFollower:
    """The gateway's copy of the keys, kept current by a thread."""

    def __init__(self, kafka: KafkaClient | str, codec: Codec) -> None:
        self._kafka = kafka
        self._codec = codec
        self._keys: dict[str, ApiKey] = {}
        self._caught_up = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._follow, name="api-keys", daemon=True)
        self._thread.start()

    def wait_caught_up(self, timeout_s: float) -> bool:
        """Whether every key stored before the start has been read."""
        return self._caught_up.wait(timeout_s)

    def get(self, key_id: str) -> ApiKey | None:
        return self._keys.get(key_id)

    @property
    def keys(self) -> Mapping[str, ApiKey]:
        return dict(self._keys)

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _follow(self) -> None:
        consumer = _consumer(self._kafka)
        try:
            consumer.assign([TopicPartition(TOPIC.name, 0, OFFSET_BEGINNING)])
            while not self._stopping.is_set():
                # a dict item assignment is atomic: readers see the old or the new record
                if _read_to_end(consumer, self._codec, self._keys, 0.5):
                    self._caught_up.set()
        finally:
            consumer.close()
