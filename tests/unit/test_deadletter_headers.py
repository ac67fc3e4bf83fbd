"""The dead-letter header names are declared once, keep their wire names, and
the DLQ tool reads what the agents write."""

from __future__ import annotations

from orderflow import deadletter_headers as names
from orderflow.deadletters import DeadLetter

WIRE_NAMES = {
    "REASON": "x-orderflow-reason",
    "SOURCE_TOPIC": "x-orderflow-source-topic",
    "SOURCE_PARTITION": "x-orderflow-source-partition",
    "SOURCE_OFFSET": "x-orderflow-source-offset",
    "REPLAYED_FROM": "x-orderflow-replayed-from",
}


def test_the_wire_names_are_unchanged_and_all_under_the_prefix() -> None:
    assert {name: getattr(names, name) for name in WIRE_NAMES} == WIRE_NAMES
    assert all(value.startswith(names.PREFIX) for value in WIRE_NAMES.values())


def test_a_dead_letter_is_read_by_the_declared_names_and_replays_without_them() -> None:
    letter = DeadLetter(3, 17, 0, b"k", b"v", (
        (names.REASON, b"undecodable: no magic byte"), (names.SOURCE_TOPIC, b"orders.commands"),
        (names.SOURCE_PARTITION, b"1"), (names.SOURCE_OFFSET, b"42"), (names.REPLAYED_FROM, b"0:5"),
        ("trace-id", b"t-1")))
    assert letter.reason == "undecodable: no magic byte"
    assert letter.source == "orders.commands[1]@42"
    assert letter.replay_of == "0:5"
    assert letter.original_headers == [("trace-id", b"t-1")]
