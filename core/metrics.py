"""Prometheus metrics shared by every orderflow process.

Owns the metric objects (module-level, as prometheus-client expects: creating
them opens nothing) and the text exposition used by each /metrics endpoint.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

__all__ = [
    "AGENT_HANDLING",
    "AUTH_REFUSALS",
    "BROKER_REACHABLE",
    "CONTENT_TYPE_LATEST",
    "DEAD_LETTERS",
    "ILLEGAL_TRANSITIONS",
    "HTTP_REQUESTS",
    "RATE_LIMITED",
    "MESSAGES_HANDLED",
    "READY",
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
    "Messages sent to the dead-letter topic, by source topic and reason class "
    "(undecodable, refused, handler_failed).",
    ["topic", "reason"],
)
AGENT_HANDLING = Histogram(
    "orderflow_agent_handling_seconds",
    "Time an agent's handler took over one decoded message (its decision, row reads and writes, sends), by agent.",
    ["agent"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
READY = Gauge(
    "orderflow_ready",
    "1 while this process would answer /readyz with 200 (worker: partitions assigned, tables recovered, "
    "no rebalance, handlers not failing), else 0; read at each scrape.",
)
BROKER_REACHABLE = Gauge(
    "orderflow_broker_reachable",
    "1 when this process' last metadata request to Kafka was answered, else 0 (asked at most every few "
    "seconds, also by each scrape).",
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
