"""Read metrics from the /metrics endpoints of running processes."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from support.http import get

__all__ = ["counter_total", "sample_value"]


def counter_total(base_urls: list[str], name: str, **labels: str) -> float:
    """Sum of counter ``name`` (without _total) over processes, for matching labels."""
    total = 0.0
    for base in base_urls:
        text = get(f"{base}/metrics").body.decode()
        for family in text_string_to_metric_families(text):
            if family.name != name:
                continue
            for sample in family.samples:
                if sample.name.endswith("_total") and all(sample.labels.get(k) == v for k, v in labels.items()):
                    total += sample.value
    return total


def sample_value(base_url: str, sample: str, **labels: str) -> float | None:
    """The value of the one sample named ``sample`` (as exposed, e.g. with
    ``_total``) with exactly these labels on one process; None if absent."""
    text = get(f"{base_url}/metrics").body.decode()
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == sample and found.labels == labels:
                return found.value
    return None
