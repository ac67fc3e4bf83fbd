"""The notification sender's SMTP client against a real SMTP server (the local
stack's mail sink, aiosmtpd): it sends, tells a final refusal from an outage,
retries what may pass and stops trying while its breaker is open."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller

from orderflow.agents.mail_client import MailClient, MailRefused, MailUnavailable
from orderflow.ports import free_port
from orderflow.simulator.mail_sink import MailSink
from orderflow.tables.mail import Email


@pytest.fixture
def sink() -> Iterator[tuple[MailSink, int]]:
    handler, port = MailSink(), free_port()
    server = Controller(handler, hostname="127.0.0.1", port=port)
    server.start()
    try:
        yield handler, port
    finally:
        server.stop()


def client(port: int, breaker_failures: int = 3) -> MailClient:
    return MailClient("127.0.0.1", port, "orderflow <orders@orderflow.example>", timeout_s=2.0, attempts=2,
                      backoff_initial_s=0.01, backoff_max_s=0.02, breaker_failures=breaker_failures,
                      breaker_recovery_s=30.0)


def test_an_email_arrives_with_its_message_id(sink: tuple[MailSink, int]) -> None:
    handler, port = sink

    async def send_two() -> None:
        async with client(port) as mail:
            await mail.send(Email("ada@example.com", "Your order ord_1 is confirmed", "Thank you, Ada."), "<n1@x>")
            await mail.send(Email("bob@example.com", "Your order ord_2 is cancelled", "Bob, sorry."), "<n2@x>")

    asyncio.run(send_two())
    assert [(m["to"], m["subject"], m["messageId"], m["text"].strip()) for m in handler.messages] == [
        (["ada@example.com"], "Your order ord_1 is confirmed", "<n1@x>", "Thank you, Ada."),
        (["bob@example.com"], "Your order ord_2 is cancelled", "<n2@x>", "Bob, sorry.")]


def test_an_email_in_another_alphabet_arrives_as_written(sink: tuple[MailSink, int]) -> None:
    handler, port = sink
    subject, text = "Votre commande ord_3 est confirmée", "Merci, Zoë : 12,00 € payés. Ἀθῆναι, 東京."

    async def send_one() -> None:
        async with client(port) as mail:
            await mail.send(Email("zoe@example.com", subject, text), "<n3@x>")

    asyncio.run(send_one())
    [message] = handler.messages
    assert (message["from"], message["to"]) == ("orders@orderflow.example", ["zoe@example.com"])
    assert (message["subject"], message["text"].strip()) == (subject, text)


def test_a_mailbox_that_does_not_exist_is_refused_for_good(sink: tuple[MailSink, int]) -> None:
    handler, port = sink

    async def send() -> None:
        async with client(port) as mail:
            await mail.send(Email("no-such-mailbox@example.com", "s", "t"), "<n3@x>")

    with pytest.raises(MailRefused, match="550"):
        asyncio.run(send())
    assert list(handler.messages) == []


def test_an_outage_is_unavailable_and_opens_the_breaker_until_it_is_over(sink: tuple[MailSink, int]) -> None:
    handler, port = sink
    handler.outage = True
    email = Email("ada@example.com", "s", "t")

    async def attempts() -> list[str]:
        found = []
        async with client(port, breaker_failures=2) as mail:
            for _ in range(3):
                try:
                    await mail.send(email, "<n4@x>")
                    found.append("sent")
                except MailUnavailable as exc:
                    found.append("breaker open" if "next trial" in str(exc) else "unavailable")
        return found

    assert asyncio.run(attempts()) == ["unavailable", "unavailable", "breaker open"]
    handler.outage = False

    async def after() -> None:
        async with client(port) as mail:
            await mail.send(email, "<n4@x>")

    asyncio.run(after())
    assert [m["messageId"] for m in handler.messages] == ["<n4@x>"]
