"""How every orderflow process logs: plain text (the default, for the dev
stack's terminals and log files) or, with ``ORDERFLOW_LOG_FORMAT=json``, one
JSON object per line with time, level, process, logger, message, the agent
and the orderId being handled where known, and the trace and span id.

``ContextFilter`` stamps each record, where it is made, with what is known
then (the current span, and the agent and order ``handling`` sets in
context variables), so a record formatted later, in another thread, still
carries them. Owns the context variables ``AGENT`` and ``ORDER_ID``; opens
nothing at import.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import queue
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from orderflow.tracing import current_ids

if TYPE_CHECKING:
    from orderflow.settings import Settings

__all__ = ["AGENT", "ORDER_ID", "ContextFilter", "JsonFormatter", "configure_logging", "worker_logging_config"]

AGENT: ContextVar[str | None] = ContextVar("orderflow_agent", default=None)
ORDER_ID: ContextVar[str | None] = ContextVar("orderflow_order_id", default=None)
PLAIN_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"
# what a LogRecord has of its own; anything else on it came from `extra=`
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime",
                                                                                 "taskName"}
_STAMPED = ("agent", "orderId", "traceId", "spanId")


class ContextFilter(logging.Filter):
    """Adds agent, orderId, traceId and spanId to each record (None when unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "traceId", None) is None:
            ids = current_ids()
            record.traceId, record.spanId = ids if ids is not None else (None, None)
        record.agent = AGENT.get()
        if getattr(record, "orderId", None) is None:
            record.orderId = ORDER_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record; ``extra=`` fields are kept."""

    def __init__(self, process: str = "orderflow") -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "process": self.process,
            "pid": record.process,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _STAMPED:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and name not in entry and name not in _STAMPED:
                entry[name] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _formatter(settings: Settings, process: str) -> logging.Formatter:
    return JsonFormatter(process) if settings.log_format == "json" else logging.Formatter(PLAIN_FORMAT)


def configure_logging(settings: Settings, process: str) -> logging.handlers.QueueListener:
    """Root logging for a process that is not a Faust worker (the gateway): records
    are stamped and queued where they are made, formatted and written by a
    thread, so a request never waits on the log's file. Returns the listener
    (stopped at exit by ``logging.shutdown``'s caller: ``stop()``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_formatter(settings, process))
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    queued = logging.handlers.QueueHandler(records)
    queued.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers.clear()
    root.addHandler(queued)
    root.setLevel(settings.log_level.upper())
    listener = logging.handlers.QueueListener(records, handler)
    listener.start()
    return listener


def worker_logging_config(settings: Settings, process: str = "worker") -> dict[str, Any] | None:
    """The ``logging.config`` dictionary a Faust worker is given for JSON logs
    (None: Faust's own plain format)."""
    if settings.log_format != "json":
        return None
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"json": {"()": JsonFormatter, "process": process}},
        "handlers": {"default": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout",
                                 "formatter": "json", "filters": ["context"]}},
        "root": {"level": settings.log_level.upper(), "handlers": ["default"]},
    }
