"""One benchmark run: seed, then one step of open-loop load at a fixed rate,
or a ramp of steps (each rate the last one's times ``ramp_factor``) until a
step is not sustained; each step waits for its orders' outcomes.

Consumes a :class:`BenchConfig` and a :class:`Target`; produces the result
dict that ``report`` writes. A step is *sustained* when every order's outcome
arrived within the drain timeout and the backlog (orders sent but without an
outcome yet) did not keep growing: its mean over the last quarter of the load
is at most 1.5 times its mean over the second quarter plus half a second of
orders.
"""

from __future__ import annotations

import asyncio
import platform
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import psutil

from orderflow.bench.config import BenchConfig
from orderflow.bench.probes import CpuProbe, LagProbe, RecordCount, group_lag
from orderflow.bench.recorder import Recorder
from orderflow.bench.seeding import seed
from orderflow.bench.senders import HttpIngress, KafkaIngress, open_loop
from orderflow.bench.target import Target
from orderflow.bench.tracker import OutcomeTracker
from orderflow.bench.workload import Workload
from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec
from orderflow.tables.clock import now_ms

__all__ = ["run_bench"]

GROWTH_FACTOR, GROWTH_SLACK_S = 1.5, 0.5


def backlog_steady(series: list[dict[str, Any]], duration: float, rate: float) -> tuple[bool, list[int]]:
    """Whether the per-second backlog stopped growing during the load; and the backlog series."""
    backlog, sent, done = [], 0, 0
    for row in series:
        sent, done = sent + row["sent"], done + row["completed"]
        backlog.append(sent - done)
    d = int(duration)

    def mean(lo: float, hi: float) -> float:
        part = backlog[int(lo):max(int(hi), int(lo) + 1)]
        return sum(part) / len(part) if part else 0.0

    return mean(3 * d / 4, d) <= GROWTH_FACTOR * mean(d / 4, d / 2) + GROWTH_SLACK_S * rate, backlog


SETTLE_TIMEOUT_S = 15.0  # a commit interval and the stages after an outcome, with room


def per_order_ms(cpu: dict[str, Any], completed: int) -> dict[str, float]:
    """Each process's CPU milliseconds per completed order in the step."""
    if not completed:
        return {}
    return {name: round(seconds * 1000 / completed, 2) for name, seconds in sorted(cpu["cpu_s"].items())}


def records_per_order(records: dict[str, dict[str, int]], completed: int) -> dict[str, float]:
    """Records consumed and produced (changelogs apart) per completed order."""
    if not completed:
        return {}
    produced = records["produced"]
    changelog = sum(n for topic, n in produced.items() if topic.endswith("-changelog"))
    return {"consumed": round(sum(records["consumed"].values()) / completed, 1),
            "produced": round((sum(produced.values()) - changelog) / completed, 1),
            "changelog": round(changelog / completed, 1)}


def _planned_orders(config: BenchConfig) -> int:
    if not config.ramp:
        return int(config.rate * config.duration)
    return int(sum(config.rate * config.ramp_factor ** k for k in range(config.max_steps)) * config.duration)


def machine() -> dict[str, Any]:
    return {"cores": psutil.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "platform": platform.platform(), "python": platform.python_version(),
            "load_average": [round(x, 2) for x in psutil.getloadavg()]}


class _Run:
    def __init__(self, config: BenchConfig, target: Target, echo) -> None:
        self.config, self.target, self.echo = config, target, echo
        self.codec = Codec()
        self.run_id = uuid.uuid4().hex[:8]
        self.products = [f"bp{self.run_id}_{i}" for i in range(config.products)]
        self.index = 0

    async def seed(self) -> None:
        stock = Workload(self.config, self.products, ["none"]).stock_needed(_planned_orders(self.config))
        began = time.monotonic()
        customers = await seed(self.target.gateway_url, self.run_id, self.config.customers, stock,
                               self.target.headers, self.target.ssl)
        self.seed_s = round(time.monotonic() - began, 1)
        self.echo(f"seeded {len(customers)} customers and {len(stock)} products in {self.seed_s}s")
        self.workload = Workload(self.config, self.products, customers)

    async def step(self, rate: float) -> dict[str, Any]:
        config, tracker, ingress = self.config, self.tracker, self.ingress
        recorder = Recorder()
        t0 = time.monotonic()
        tracker.use(recorder, t0)
        ingress.recorder = self.kafka.recorder = recorder
        lag = LagProbe(self.target.kafka, self.target.app_id)
        lag.start(t0)
        self.records.mark()
        self.cpu.mark()
        first = self.index

        def fire(i: int, scheduled: float) -> None:
            order = self.workload.order(first + i)
            order_id = ingress.order_id(order)
            tracker.expect(order_id, scheduled, order.cancel)
            ingress.place(order_id, order, scheduled)
            recorder.order_sent(scheduled - t0)

        def tick() -> None:
            ingress.poll()
            while tracker.to_cancel:
                order_id = tracker.to_cancel.popleft()
                tracker.cancel_sent(order_id, time.monotonic())
                ingress.cancel(order_id)
                recorder.count("cancels_sent")

        def fire_price(i: int, _scheduled: float) -> None:
            ingress.price(*self.workload.price_update(i, now_ms()))
            recorder.count("prices_sent")

        loads = [open_loop(rate, config.duration, fire, tick)]
        if config.price_rate > 0:
            loads.append(open_loop(config.price_rate, config.duration, fire_price, self.kafka.poll))
        sent, *_ = await asyncio.gather(*loads)
        self.index += sent
        load_s = time.monotonic() - t0
        backlog = tracker.in_flight
        deadline = time.monotonic() + config.drain_timeout
        while (tracker.in_flight or tracker.cancels_pending) and time.monotonic() < deadline:
            tick()
            await asyncio.sleep(0.05)  # waiting for the last outcomes, bounded by drain_timeout
        drain_s = time.monotonic() - t0 - load_s
        cpu = self.cpu.since_mark()
        await self._settle(time.monotonic() + SETTLE_TIMEOUT_S)
        return self._step_result(rate, recorder, lag.stop(), load_s, drain_s, backlog, cpu, self.records.since_mark())

    async def _settle(self, deadline: float) -> None:
        """Until the group has committed everything (the stages after an outcome, the last commit
        interval), so the records consumed per order are all counted; at most until ``deadline``."""
        admin = self.records.admin
        while time.monotonic() < deadline:
            if not sum(group_lag(admin, self.target.app_id).values()):
                return
            await asyncio.sleep(0.2)

    def _step_result(self, rate: float, rec: Recorder, lag: list[dict[str, Any]], load_s: float,
                     drain_s: float, backlog: int, cpu: dict[str, Any],
                     records: dict[str, dict[str, int]]) -> dict[str, Any]:
        series = rec.series()
        completed = rec.completed
        drained = self.tracker.in_flight == 0
        steady, backlog_series = backlog_steady(series, self.config.duration, rate)
        return {
            "rate": rate, "duration_s": self.config.duration, "load_s": round(load_s, 2),
            "drain_s": round(drain_s, 2), "sent": rec.sent, "completed": completed,
            "unfinished": self.tracker.in_flight, "outcomes": dict(rec.outcomes),
            "send_errors": rec.send_errors, "http_errors": dict(rec.http_errors),
            "offered_per_s": round(rec.sent / self.config.duration, 1),
            "completed_per_s": round(rec.completion_rate(rate), 1),
            "latency_ms": rec.percentiles("latency"),
            "http_ms": rec.percentiles("http") if self.config.ingress == "http" else None,
            "cancels_sent": rec.cancels_sent, "cancel_ms": rec.percentiles("cancel"),
            "prices_sent": rec.prices_sent,
            "backlog_at_end": backlog,
            "backlog_series": backlog_series,
            "stable": drained and steady,
            "lag": {"max": max((s["lag"] for s in lag), default=None),
                    "end": lag[-1]["lag"] if lag else None, "samples": lag},
            "cpu": cpu,
            "cpu_ms_per_order": per_order_ms(cpu, completed),
            "records": records | {"per_order": records_per_order(records, completed)},
            "series": series,
        }

    async def run(self) -> dict[str, Any]:
        config = self.config
        await self.seed()
        self.tracker = OutcomeTracker(self.target.kafka, self.codec)
        self.tracker.start()
        self.kafka = KafkaIngress(self.target.ingress, self.codec, self.run_id)
        self.ingress: KafkaIngress | HttpIngress
        if config.ingress == "http":
            http = HttpIngress(self.target.gateway_url, self.kafka, self.run_id, headers=self.target.headers,
                               tls=self.target.ssl)
            http.on_failed = self.tracker.forget
            self.ingress = http
        else:
            self.ingress = self.kafka
        self.cpu = CpuProbe(self.target.processes)
        self.records = RecordCount(self.target.kafka, self.target.app_id,
                                   [spec.name for spec in catalog.all_topics(self.target.app_id)])
        steps: list[dict[str, Any]] = []
        rate = config.rate
        try:
            for _ in range(config.max_steps if config.ramp else 1):
                self.echo(f"step at {rate:.0f} orders/s for {config.duration:.0f}s ...")
                step = await self.step(rate)
                steps.append(step)
                lat = step["latency_ms"]
                self.echo(f"  sent {step['sent']}, completed {step['completed']} "
                          f"({step['completed_per_s']}/s), p50 {lat.get('p50')} ms, p99 {lat.get('p99')} ms, "
                          f"{'sustained' if step['stable'] else 'NOT sustained'}")
                self.echo("  CPU ms per order: " + ", ".join(f"{k} {v}" for k, v in step["cpu_ms_per_order"].items())
                          + "; records per order: " + ", ".join(f"{k} {v}" for k, v in
                                                               step["records"]["per_order"].items()))
                if not config.ramp or not step["stable"]:
                    break
                rate *= config.ramp_factor
        finally:
            await self.ingress.close()
            self.tracker.stop()
        sustained = [s for s in steps if s["stable"]]
        return {
            "kind": "orderflow-bench", "version": 1,
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(), "config": config.to_json(),
            "target": {"gateway": self.target.gateway_url, "app_id": self.target.app_id,
                       "partitions": self.target.partitions, "processes": sorted(self.target.processes)},
            "seed_s": self.seed_s,
            "steps": steps,
            "sustained_rate": max((s["rate"] for s in sustained), default=None),
            "result": (sustained[-1] if sustained else steps[-1]) if config.ramp else steps[-1],
        }


def run_bench(config: BenchConfig, target: Target, echo=print) -> dict[str, Any]:
    """Seed, load, wait for the outcomes; the result dict."""
    return asyncio.run(_Run(config, target, echo).run())
