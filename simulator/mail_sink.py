"""The local stack's mail server: a real SMTP server (aiosmtpd) that keeps what
it receives, and an HTTP face to read it and script its failures.

Consumes SMTP on ``port`` (EHLO, MAIL, RCPT, DATA; no authentication, no
TLS: loopback only). Serves HTTP on ``port + 1``: GET /messages (the last
received, newest last: from, to, subject, text, messageId, receivedAt;
``?to=`` filters by recipient), GET /healthz and /readyz, and PUT
/_sim/behaviour with ``{"outage": true}`` (every command answered 421, the
way a server going down does) or ``{"outage": false}``. Recipients whose
address starts with ``no-such-mailbox`` are refused for good (550), as a
mailbox that does not exist. Owns the messages, in memory only.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

__all__ = ["BOUNCING_PREFIX", "MailSink", "run_mail_sink"]

log = logging.getLogger(__name__)
BOUNCING_PREFIX = "no-such-mailbox"
SINK: web.AppKey[MailSink] = web.AppKey("sink")


class MailSink:
    """aiosmtpd's handler: refuses what the behaviour says, keeps the rest."""

    def __init__(self, keep: int = 5_000) -> None:
        self.messages: deque[dict[str, Any]] = deque(maxlen=keep)
        self.outage = False

    async def handle_MAIL(  # noqa: N802 - the name aiosmtpd calls
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str],
    ) -> str:
        if self.outage:
            return "421 4.3.2 Service not available, closing transmission channel"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(  # noqa: N802 - the name aiosmtpd calls
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str],
    ) -> str:
        if self.outage:
            return "421 4.3.2 Service not available, closing transmission channel"
        if address.lower().startswith(BOUNCING_PREFIX):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - the name aiosmtpd calls
        self, server: SMTP, session: Session, envelope: Envelope,
    ) -> str:
        if self.outage:
            return "421 4.3.2 Service not available, closing transmission channel"
        raw = envelope.original_content or envelope.content or b""
        parsed = message_from_bytes(raw if isinstance(raw, bytes) else raw.encode(), policy=policy.default)
        body = parsed.get_body(preferencelist=("plain",)) if isinstance(parsed, EmailMessage) else None
        self.messages.append({
            "from": envelope.mail_from, "to": list(envelope.rcpt_tos), "subject": str(parsed["Subject"] or ""),
            "messageId": str(parsed["Message-ID"] or "").strip(),
            "text": body.get_content() if body is not None else "",
            "receivedAt": int(time.time() * 1000)})
        return "250 Message accepted for delivery"


async def list_messages(request: web.Request) -> web.Response:
    messages = list(request.app[SINK].messages)
    wanted = request.query.get("to")
    if wanted:
        messages = [m for m in messages if wanted.lower() in (t.lower() for t in m["to"])]
    return web.json_response({"messages": messages[-500:]})


async def set_behaviour(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "invalid_request", "message": "send a JSON object"}, status=400)
    if not isinstance(body, dict) or not isinstance(body.get("outage", False), bool):
        return web.json_response({"error": "invalid_request", "message": "outage must be true or false"},
                                 status=400)
    sink = request.app[SINK]
    sink.outage = body.get("outage", False)
    return web.json_response({"outage": sink.outage})


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


def create_http(sink: MailSink) -> web.Application:
    app = web.Application()
    app[SINK] = sink
    app.add_routes([web.get("/messages", list_messages), web.put("/_sim/behaviour", set_behaviour),
                    web.get("/healthz", healthz), web.get("/readyz", healthz)])
    return app


def run_mail_sink(host: str, port: int) -> None:
    """SMTP on ``port``, its HTTP reads on ``port + 1``, until SIGINT or SIGTERM."""
    logging.basicConfig(level="INFO", format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")
    sink = MailSink()
    smtp = Controller(sink, hostname=host, port=port)
    smtp.start()  # aiosmtpd serves from its own thread and loop
    log.info("SMTP on %s:%d, messages at http://%s:%d/messages", host, port, host, port + 1)
    try:
        web.run_app(create_http(sink), host=host, port=port + 1, access_log=None, print=None, shutdown_timeout=2,
                    handle_signals=True)
    finally:
        smtp.stop()

