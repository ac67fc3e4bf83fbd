"""The operator console's pure parts: recent orders merged over the workers,
a dead letter as the page shows it, the operator's Kafka identity, and the
pages' files shipped with the package."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from orderflow.deadletter_headers import REASON, REPLAYED_FROM, SOURCE_OFFSET, SOURCE_PARTITION, SOURCE_TOPIC
from orderflow.deadletters import DeadLetter
from orderflow.gateway import pages
from orderflow.gateway.console import merge_recent, present_dead_letter
from orderflow.settings import Settings


def order(order_id: str, status: str, updated: int) -> dict:
    return {"orderId": order_id, "customerId": "c1", "status": status, "totalCents": 1999, "currency": "EUR",
            "lines": 2, "createdAt": 1_000, "updatedAt": updated}


def test_recent_orders_from_several_workers_are_merged_newest_first_per_status_and_cut_to_the_limit() -> None:
    worker_a = {"confirmed": [order("a1", "confirmed", 50), order("a2", "confirmed", 10)]}
    worker_b = {"confirmed": [order("b1", "confirmed", 30)], "rejected": [order("b2", "rejected", 5)]}
    merged = merge_recent([worker_a, worker_b], limit=2)
    assert [o["orderId"] for o in merged["confirmed"]] == ["a1", "b1"]
    assert [o["orderId"] for o in merged["rejected"]] == ["b2"]
    first = merged["confirmed"][0]
    assert (first["totalAmount"], first["currency"], first["updatedAt"]) == (19.99, "EUR", "1970-01-01T00:00:00.050Z")


def test_an_order_both_workers_report_during_a_rebalance_is_listed_once() -> None:
    merged = merge_recent([{"confirmed": [order("x", "confirmed", 9)]}, {"confirmed": [order("x", "confirmed", 9)]}],
                          limit=5)
    assert [o["orderId"] for o in merged["confirmed"]] == ["x"]


def test_a_dead_letter_shows_where_it_came_from_why_and_whether_it_is_a_failed_replay() -> None:
    headers = ((SOURCE_TOPIC, b"orders.commands"), (SOURCE_PARTITION, b"2"), (SOURCE_OFFSET, b"41"),
               (REASON, b"undecodable: not Avro"), (REPLAYED_FROM, b"0:3"))
    shown = present_dead_letter(DeadLetter(1, 7, 1_000, b"o1", b"\x00garbage", headers))
    assert shown["position"] == "1:7"
    assert shown["source"] == "orders.commands[2]@41"
    assert (shown["sourceTopic"], shown["reason"], shown["replayOf"]) == (
        "orders.commands", "undecodable: not Avro", "0:3")
    assert shown["key"] == "'o1'"
    assert shown["value"].startswith("0x00")


def test_on_a_plain_broker_the_console_uses_the_gateways_own_connection() -> None:
    settings = Settings(bootstrap_servers="k:9092")
    assert settings.as_operator() is settings


def test_on_a_secured_broker_the_console_needs_the_operators_credentials() -> None:
    secured = Settings(bootstrap_servers="k:9093", kafka_security_protocol="SASL_SSL", kafka_username="gateway",
                       kafka_password=SecretStr("g"))
    assert secured.as_operator() is None
    with_operator = secured.model_copy(update={"operator_kafka_username": "operator",
                                               "operator_kafka_password": SecretStr("o")})
    operator = with_operator.as_operator()
    assert operator is not None
    assert (operator.kafka.username, operator.kafka.password.get_secret_value()) == ("operator", "o")


def test_every_page_and_asset_is_in_the_package() -> None:
    for name in (*pages.PAGES.values(), *pages.ASSETS):
        text = pages._file(name).decode()
        assert text.strip(), name
    for page in ("shop.html", "console.html"):
        html = pages._file(page).decode()
        assert 'name="viewport"' in html and '<html lang="en">' in html
        assert all(f"/assets/{asset}" in html for asset in ("pages.css", page.replace(".html", ".js")))


def test_a_framed_values_schema_is_read_from_its_header_alone() -> None:
    from orderflow.schemas.codec import Codec, DecodeError

    codec = Codec()
    framed = codec.encode("orderflow.v1.ProductPrice", {"productId": "p1", "priceCents": 100, "effectiveAt": 1})
    assert codec.schema_of(framed) == codec.decode(framed).schema == "orderflow.v1.ProductPrice"
    assert codec.schema_of(framed[:5] + b"\xff") == "orderflow.v1.ProductPrice"  # the body is not read
    with pytest.raises(DecodeError, match="tombstone"):
        codec.schema_of(None)
