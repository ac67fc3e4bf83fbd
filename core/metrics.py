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
    "CONSUMER_LAG_RECORDS",
    "CONSUMER_LAG_SECONDS",
    "CONTENT_TYPE_LATEST",
    "DEAD_LETTERS",
    "GATEWAY_IN_FLIGHT",
    "GATEWAY_PRODUCE",
    "GATEWAY_WORKER_READ_ERRORS",
    "ILLEGAL_TRANSITIONS",
    "SHIPPING_CONTRADICTIONS",
    "HTTP_REQUESTS",
    "RATE_LIMITED",
    "MESSAGES_HANDLED",
    "OLDEST_OPEN_ORDER",
    "ORDERS_OPEN",
    "ORDER_STATUS_REACHED",
    "PAYMENT_TIMEOUT",
    "READY",
    "REBALANCES",
    "REBALANCE_SECONDS",
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
CONSUMER_LAG_RECORDS = Gauge(
    "orderflow_consumer_lag_records",
    "Records of a source partition this worker owns that its agents have not handled yet "
    "(end offset minus the next offset to handle; the worst of the agents reading the topic).",
    ["topic", "partition"],
)
CONSUMER_LAG_SECONDS = Gauge(
    "orderflow_consumer_lag_seconds",
    "While records of the partition wait: seconds since the newest record its agents handled was "
    "produced (0 when none waits; NaN when none was handled since this worker took the partition).",
    ["topic", "partition"],
)
REBALANCES = Counter(
    "orderflow_rebalances_total",
    "Consumer group rebalances this worker took part in.",
)
REBALANCE_SECONDS = Histogram(
    "orderflow_rebalance_seconds",
    "From a rebalance's start until this worker's tables are recovered and its agents run again.",
    buckets=(0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0),
)
ORDER_STATUS_REACHED = Histogram(
    "orderflow_order_status_seconds",
    "Time from an order's placement to each status it reaches, by status (observed by the order "
    "saga when it writes the status).",
    ["status"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0),
)
ORDERS_OPEN = Gauge(
    "orderflow_orders_open",
    "Orders in each non-final status on this worker's partitions (counted every order-scan interval).",
    ["status"],
)
OLDEST_OPEN_ORDER = Gauge(
    "orderflow_oldest_open_order_age_seconds",
    "Age since placement of the oldest order in each non-final status on this worker's partitions "
    "(0 when there is none).",
    ["status"],
)
PAYMENT_TIMEOUT = Gauge(
    "orderflow_payment_timeout_seconds",
    "The worker's payment timeout setting: an order longer than this in pending_payment is cancelled "
    "(the stuck-order alert compares the oldest open order's age with it).",
)
ILLEGAL_TRANSITIONS = Counter(
    "orderflow_illegal_transitions_total",
    "Messages ignored because they would make an illegal transition, by agent.",
    ["agent"],
)
SHIPPING_CONTRADICTIONS = Counter(
    "orderflow_shipping_contradictions_total",
    "Shipped or Delivered reported for an order that had ended without its goods leaving "
    "(recorded on the order with the compensation it calls for), by fact.",
    ["fact"],
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
GATEWAY_IN_FLIGHT = Gauge(
    "orderflow_http_requests_in_flight",
    "Gateway requests being answered now.",
)
GATEWAY_PRODUCE = Histogram(
    "orderflow_gateway_produce_seconds",
    "Time from the gateway's produce call until the broker acknowledged the record, by topic and "
    "outcome (ok, failed).",
    ["topic", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
GATEWAY_WORKER_READ_ERRORS = Counter(
    "orderflow_gateway_worker_read_errors_total",
    "Reads the gateway forwarded to a worker that failed (unreachable, timed out, or a 5xx), by resource.",
    ["resource"],
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
