"""A standby copy's lag is the broker's end offset minus the next offset it
would apply, summed per table; a copy that has applied nothing lags by all."""

from __future__ import annotations

from faust.types import TP

from orderflow.agents.runtime.standby import lag_per_table


class Table:
    def __init__(self, name: str, applied: dict[int, int | None]) -> None:
        self.name, self._applied = name, applied

    def persisted_offset(self, tp: TP) -> int | None:
        return self._applied[tp.partition]


def test_lag_is_what_the_changelog_has_past_the_last_record_applied() -> None:
    orders = Table("orders", {0: 99, 1: None})
    stock = Table("stock", {0: 41})
    standbys = {TP("o-changelog", 0): orders, TP("o-changelog", 1): orders, TP("s-changelog", 0): stock}
    ends = {TP("o-changelog", 0): 100, TP("o-changelog", 1): 7, TP("s-changelog", 0): 50}
    assert lag_per_table(standbys, ends) == {"orders": 0 + 7, "stock": 8}
