"""What one benchmark run is asked to do (the ``orderflow bench`` options).

Consumes nothing; produces a frozen :class:`BenchConfig` the other modules read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

Ingress = Literal["http", "kafka"]

__all__ = ["BenchConfig"]


@dataclass(frozen=True)
class BenchConfig:
    rate: float = 100.0                     # orders per second, open loop (the first step when ramping)
    duration: float = 30.0                  # seconds of load (per step when ramping)
    ingress: Ingress = "kafka"
    workers: int = 1
    products: int = 1000
    customers: int = 200
    zipf: float = 1.0                       # popularity exponent; 0 is uniform
    min_lines: int = 1
    max_lines: int = 5
    price_rate: float = 0.0                 # PriceUpdated per second, in parallel
    decline_share: float = 0.0              # share of orders paid with pm_insufficient_funds
    cancel_share: float = 0.0               # share of orders cancelled once confirmed
    ramp: bool = False
    ramp_factor: float = 1.5                # each step's rate is the last one's times this
    max_steps: int = 8
    drain_timeout: float = 60.0             # how long to wait for the last orders' outcomes
    out: Path = Path("bench-results")
    seed: int = 1

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["out"] = str(self.out)
        return data
