"""A partition's lag is its end offset minus the next offset its slowest agent
has to handle, never behind the group's commit; its age is how long ago the
newest handled record was produced, while records wait."""

from __future__ import annotations

import math

from faust.types import TP

from orderflow.agents.runtime.progress import Behind, Progress, behind
from orderflow.gateway.tracking import read_resource

TP0 = TP("orders.by-customer", 0)


def progress_of(*agents: str) -> Progress:
    progress = Progress()
    for agent in agents:
        progress.reads(agent, [TP0.topic])
    return progress


def test_a_partition_handled_to_its_end_has_no_lag() -> None:
    progress = progress_of("a")
    progress.handled("a", TP0, 99, timestamp=1_000.0)
    assert behind(progress, TP0, end=100, committed=90, now=1_005.0) == Behind(0, 0.0)


def test_records_past_the_handled_offset_are_lag_dated_by_the_last_handled_record() -> None:
    progress = progress_of("a")
    progress.handled("a", TP0, 49, timestamp=1_000.0)
    assert behind(progress, TP0, end=80, committed=40, now=1_012.5) == Behind(30, 12.5)


def test_the_slowest_of_two_agents_on_a_topic_is_the_lag() -> None:
    progress = progress_of("fast", "slow")
    progress.handled("fast", TP0, 99, timestamp=1_010.0)
    progress.handled("slow", TP0, 59, timestamp=1_001.0)
    assert behind(progress, TP0, end=100, committed=50, now=1_011.0) == Behind(40, 10.0)


def test_an_agent_that_handled_nothing_here_counts_from_the_commit_with_no_age() -> None:
    lag = behind(progress_of("a"), TP0, end=100, committed=70, now=1_000.0)
    assert lag.records == 30 and math.isnan(lag.seconds)


def test_an_entry_from_an_earlier_assignment_behind_the_commit_dates_nothing() -> None:
    progress = progress_of("a")
    progress.handled("a", TP0, 9, timestamp=500.0)  # before the partition went away and came back
    lag = behind(progress, TP0, end=100, committed=60, now=1_000.0)
    assert lag.records == 40 and math.isnan(lag.seconds)


def test_a_partition_never_committed_lags_by_everything_in_it() -> None:
    assert behind(progress_of("a"), TP0, end=25, committed=-1, now=0.0).records == 25


def test_a_topic_no_agent_reads_has_no_lag() -> None:
    assert behind(progress_of("a"), TP("other", 0), end=25, committed=-1, now=0.0) == Behind(0, 0.0)


def test_the_gateways_read_errors_are_labelled_by_resource_never_by_key() -> None:
    assert read_resource("/orders/o-1?waitWhileStatus=pending") == "orders"
    assert read_resource("/customers/c-9/orders?page=2") == "customers"
    assert read_resource("/readyz") == "readyz"
