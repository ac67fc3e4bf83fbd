"""Test-only entry point: the real ``orderflow worker`` with a bug planted in
the order saga, for the tests of what a bug does to a worker.

Run as ``python -P -m support.broken_worker`` with the tests folder on
PYTHONPATH and the worker's ORDERFLOW_* settings in the environment. It
replaces ``tables.orders.decide`` (the saga's pure decision, which the
``process_orders`` agent calls for every message that is not a replay) with
one that raises, as a regression in it would, and then runs the worker
exactly as ``orderflow worker`` does: same app, same agent loop, same
commits and exit. Production code has no switch for this.
"""

from __future__ import annotations

from typing import Any, NoReturn

from orderflow import cli
from orderflow.tables import orders

__all__ = ["BUG", "main"]

BUG = "planted by the test: the saga cannot decide"


def broken_decide(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise RuntimeError(BUG)


def main() -> None:
    orders.decide = broken_decide
    cli.main(["worker"])


if __name__ == "__main__":
    main()
