"""Writes a run's result: ``result.json`` (everything), ``summary.md`` (a
short table a person reads) and ``bench.png`` (throughput, consumer lag and
latency percentiles over time, matplotlib with the Agg backend).

Consumes the result dict of ``run`` (and, when measured, the ceilings'
figures); produces the three files in the output directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["markdown", "plot", "write"]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _step_rows(steps: list[dict[str, Any]]) -> list[str]:
    rows = ["| target/s | sent | completed | completed/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms "
            "| HTTP p99 ms | max lag | CPU s (all) | sustained |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for s in steps:
        lat, http = s["latency_ms"], s.get("http_ms") or {}
        lag = s["lag"]["max"] if s["lag"]["max"] is not None else "-"
        rows.append(
            f"| {s['rate']:,.0f} | {s['sent']:,} | {s['completed']:,} | {s['completed_per_s']:,.1f} "
            f"| {_ms(lat.get('p50'))} | {_ms(lat.get('p90'))} | {_ms(lat.get('p99'))} | {_ms(lat.get('p99.9'))} "
            f"| {_ms(lat.get('max'))} | {_ms(http.get('p99'))} | {lag} "
            f"| {s['cpu']['total_cpu_s']} | {'yes' if s['stable'] else 'no'} |")
    return rows


def _record_rows(records: dict[str, Any]) -> list[str]:
    per_order = records["per_order"]
    rows = [f"Records per completed order: consumed {per_order.get('consumed', '-')}, produced "
            f"{per_order.get('produced', '-')} plus {per_order.get('changelog', '-')} changelog records.", "",
            "| topic | produced | consumed by the stack |", "|---|---:|---:|"]
    for topic in sorted(set(records["produced"]) | set(records["consumed"])):
        rows.append(f"| {topic} | {records['produced'].get(topic, 0):,} | {records['consumed'].get(topic, 0):,} |")
    return [*rows, ""]


def markdown(result: dict[str, Any]) -> str:
    config, last = result["config"], result["result"]
    lines = [
        f"# orderflow bench, {result['date']}", "",
        f"Machine: {result['machine']['cores']} cores, {result['machine']['memory_gib']} GiB, "
        f"{result['machine']['platform']}; load average at the end {result['machine']['load_average']}. "
        "The broker, the stack and this load generator share the machine.", "",
        f"Ingress {config['ingress']}, {config['products']} products (Zipf {config['zipf']}), "
        f"{config['min_lines']}-{config['max_lines']} lines per order, {config['customers']} customers, "
        f"price updates {config['price_rate']}/s, declines {config['decline_share']:.0%}, "
        f"cancellations {config['cancel_share']:.0%}. Latency: from each order's scheduled send time to its "
        "outcome on the orders events topic.", "",
        *_step_rows(result["steps"]), "",
    ]
    if config["ramp"]:
        best = result["sustained_rate"]
        lines += [f"Highest sustained rate: {f'{best:,.1f}' if best else 'none'} orders/s.", ""]
    lines += [f"Outcomes ({last['rate']:,.0f}/s step): "
              + ", ".join(f"{k} {v:,}" for k, v in sorted(last["outcomes"].items())), ""]
    cpu = last["cpu"]
    lines += ["CPU seconds per process in that step (wall "
              f"{cpu['wall_s']} s): " + ", ".join(f"{k} {v}" for k, v in sorted(cpu["cpu_s"].items())), ""]
    if last.get("cpu_ms_per_order"):
        lines += ["CPU milliseconds per completed order: "
                  + ", ".join(f"{k} {v}" for k, v in last["cpu_ms_per_order"].items()), ""]
    if last.get("records"):
        lines += _record_rows(last["records"])
    if result.get("ceilings"):
        lines += ["## Ceilings on the same broker", "", "| measurement | events/s | ÷ pipeline's completed orders/s |",
                  "|---|---:|---:|"]
        for row in result["ceilings"]["rows"]:
            lines.append(f"| {row['name']} | {row['events_per_s']:,.0f} | {row.get('ratio', '-')} |")
        lines.append("")
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (thr, lag, lat) = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    offset = 0.0
    for k, step in enumerate(result["steps"]):
        series = step["series"]
        t = [offset + r["t"] for r in series]
        label = f"{step['rate']:,.0f}/s" if k == 0 or result["config"]["ramp"] else None
        thr.plot(t, [r["sent"] for r in series], color="tab:gray", lw=1, label="sent/s" if k == 0 else None)
        thr.plot(t, [r["completed"] for r in series], color="tab:blue", lw=1.5,
                 label="completed/s" if k == 0 else None)
        samples = step["lag"]["samples"]
        lag.plot([offset + s["t"] for s in samples], [s["lag"] for s in samples], color="tab:red", lw=1.5,
                 label="committed lag, messages (all topics)" if k == 0 else None)
        backlog = step.get("backlog_series", [])
        lag.plot([offset + t for t in range(len(backlog))], backlog, color="tab:brown", lw=1.2,
                 label="orders awaiting their outcome" if k == 0 else None)
        for p, color in (("p50", "tab:green"), ("p99", "tab:orange"), ("max", "tab:purple")):
            lat.plot([offset + r["t"] for r in series if p in r], [r[p] for r in series if p in r],
                     color=color, lw=1.2, label=p if k == 0 else None)
        if label and k:
            for ax in (thr, lag, lat):
                ax.axvline(offset, color="black", lw=0.5, ls=":")
        offset += max(len(series), int(step["load_s"] + step["drain_s"]) + 1)
    thr.set_ylabel("orders per second")
    lag.set_ylabel("count")
    lat.set_ylabel("latency (ms)")
    lat.set_yscale("log")
    lat.set_xlabel("seconds since the step's start (steps one after another)")
    for ax in (thr, lag, lat):
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    config = result["config"]
    fig.suptitle(f"orderflow bench: {config['ingress']} ingress, target "
                 + ", ".join(f"{s['rate']:,.0f}" for s in result["steps"]) + " orders/s")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write(result: dict[str, Any], out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "result.json", "markdown": out / "summary.md", "png": out / "bench.png"}
    paths["json"].write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    paths["markdown"].write_text(markdown(result), encoding="utf-8")
    plot(result, paths["png"])
    return paths
