"""What a run measured: HDR histograms (whole run and per second) of order
latency, gateway response time and cancellation latency, counts per second,
and the outcome of every order.

Consumes latencies in seconds from the senders and the tracker (any thread);
produces plain dicts for the report. Latency is counted from each order's
scheduled send time, so a late sender shows up in the figures (no
coordinated omission).
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from typing import Any

from hdrh.histogram import HdrHistogram

__all__ = ["PERCENTILES", "Recorder", "summary"]

PERCENTILES = (50.0, 90.0, 99.0, 99.9)
_MAX_US = 3_600_000_000  # one hour
_SECOND_MAX_US = 120_000_000


def _histogram() -> HdrHistogram:
    return HdrHistogram(1, _MAX_US, 3)


def summary(histogram: HdrHistogram) -> dict[str, float | int]:
    """count, mean, p50 ... p99.9 and max, in milliseconds."""
    count = histogram.get_total_count()
    out: dict[str, float | int] = {"count": count}
    if not count:
        return out
    for p in PERCENTILES:
        out[f"p{p:g}"] = histogram.get_value_at_percentile(p) / 1000
    out["max"] = histogram.get_max_value() / 1000
    out["mean"] = round(histogram.get_mean_value() / 1000, 3)
    return out


def _us(seconds: float) -> int:
    return min(_MAX_US, max(1, int(seconds * 1_000_000)))


class Recorder:
    """Thread-safe; ``t`` arguments are seconds since the step started."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.latency = _histogram()
        self.http = _histogram()
        self.cancel = _histogram()
        self.outcomes: Counter[str] = Counter()
        self.sent = 0
        self.send_errors = 0
        self.http_errors: Counter[str] = Counter()
        self.cancels_sent = 0
        self.prices_sent = 0
        self.first_done: float | None = None
        self.last_done: float | None = None
        self._per_second: dict[int, dict[str, Any]] = defaultdict(
            lambda: {"sent": 0, "completed": 0, "latency": HdrHistogram(1, _SECOND_MAX_US, 2)})

    def order_sent(self, t: float) -> None:
        with self._lock:
            self.sent += 1
            self._per_second[int(t)]["sent"] += 1

    def order_done(self, t: float, latency_s: float, status: str) -> None:
        with self._lock:
            self.latency.record_value(_us(latency_s))
            self.outcomes[status] += 1
            if self.first_done is None:
                self.first_done = t
            self.last_done = t
            second = self._per_second[int(t)]
            second["completed"] += 1
            second["latency"].record_value(min(_SECOND_MAX_US, _us(latency_s)))

    def http_done(self, latency_s: float, status: int) -> None:
        with self._lock:
            self.http.record_value(_us(latency_s))
            if status >= 300:
                self.http_errors[str(status)] += 1

    def cancel_done(self, latency_s: float) -> None:
        with self._lock:
            self.cancel.record_value(_us(latency_s))

    def count(self, what: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, what, getattr(self, what) + n)

    def completion_rate(self, sent_rate: float) -> float:
        """Outcomes per second from the first to the last one (plus one send interval)."""
        with self._lock:
            count = sum(self.outcomes.values())
            if not count or self.first_done is None or self.last_done is None:
                return 0.0
            return count / (self.last_done - self.first_done + 1.0 / sent_rate)

    def percentiles(self, name: str) -> dict[str, float | int]:
        """``summary`` of one of the histograms, read while no thread records into it."""
        with self._lock:
            return summary(getattr(self, name))

    @property
    def completed(self) -> int:
        with self._lock:
            return sum(self.outcomes.values())

    def series(self) -> list[dict[str, Any]]:
        """One row per second: sent, completed, and that second's latency percentiles (ms)."""
        with self._lock:
            rows = []
            for second in range(max(self._per_second, default=-1) + 1):
                data = self._per_second.get(second)
                row = {"t": second, "sent": data["sent"] if data else 0,
                       "completed": data["completed"] if data else 0}
                if data and data["latency"].get_total_count():
                    row.update({k: v for k, v in summary(data["latency"]).items() if k != "count"})
                rows.append(row)
            return rows
