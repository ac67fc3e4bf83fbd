"""Prometheus metrics shared by every orderflow process.

Owns the metric objects (module-level, as prometheus-client expects: creating
them opens nothing) and the text exposition used by each /metrics endpoint.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

__all__ = [
    "AUTH_REFUSALS",
    "CONTENT_TYPE_LATEST",
    "DEAD_LETTERS",
    "ILLEGAL_TRANSITIONS",
    "HTTP_REQUESTS",
    "RATE_LIMITED",
    "MESSAGES_HANDLED",
    "RESTORE_RECORDS",
    "RESTORE_REMAINING",
    "STANDBY_LAG",
    "UNDECODABLE_MESSAGES",
    "exposition",
]

MESSAGES_HANDLED = Counter(
    "orderflow_messages_handled_total",
    "Messages an agent handled, by agent and outcome (applied, unchanged, replayed, ignored, refused, failed).",
    ["agent", "outcome"],
)
UNDECODABLE_MESSAGES = Counter(
    "orderflow_undecodable_messages_total",
    "Messages that could not be decoded, by source topic.",
    ["topic"],
)
DEAD_LETTERS = Counter(
    "orderflow_dead_letters_total",
    "Messages sent to the dead-letter topic, by source topic.",
    ["topic"],
)
ILLEGAL_TRANSITIONS = Counter(
    "orderflow_illegal_transitions_total",
    "Messages ignored because they would make an illegal transition, by agent.",
    ["agent"],
)
RESTORE_RECORDS = Counter(
    "orderflow_restore_records_total",
    "Changelog records a worker's bulk restore wrote to its local tables.",
)
RESTORE_REMAINING = Gauge(
    "orderflow_restore_remaining_records",
    "Changelog records the running bulk restore has still to read (0 when none runs).",
)
STANDBY_LAG = Gauge(
    "orderflow_standby_lag_records",
    "Changelog records not yet in this worker's standby copies, per table (against the broker's end offsets).",
    ["table"],
)
HTTP_REQUESTS = Histogram(
    "orderflow_http_request_seconds",
    "Gateway request latency, by route and status.",
    ["route", "status"],
)

AUTH_REFUSALS = Counter(
    "orderflow_auth_refusals_total",
    "Gateway requests refused by authentication (401: missing, expired, bad_signature, bad_algorithm, "
    "bad_claims, unknown_key, malformed, malformed_key) or by scope (403: insufficient_scope).",
    ["reason"],
)

RATE_LIMITED = Counter(
    "orderflow_rate_limited_total",
    "Gateway requests refused with 429, by the kind of caller (key, customer, token).",
    ["caller"],
)


def exposition() -> bytes:
    """The Prometheus text format of every metric of this process."""
    return generate_latest()
