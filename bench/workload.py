"""The orders a run sends: pure, seeded, no I/O.

Consumes the run's config, the product ids and the seeded customer ids;
produces :class:`Order` values (1 to 5 distinct lines over a Zipf-skewed
product popularity, a share paid with a declining card, a share to be
cancelled), the stock each product needs so that orders are not rejected for
stock, and price updates.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass

from orderflow.bench.config import BenchConfig

__all__ = ["DECLINING_CARD", "Order", "Workload", "zipf_weights"]

DECLINING_CARD = "pm_insufficient_funds"  # the payment simulator declines it
PAYING_CARD = "pm_bench_visa"
MAX_UNITS_PER_LINE = 3


@dataclass(frozen=True, slots=True)
class Order:
    index: int
    customer_id: str
    lines: tuple[tuple[str, int], ...]      # (productId, quantity)
    payment_method: str
    cancel: bool

    @property
    def declines(self) -> bool:
        return self.payment_method == DECLINING_CARD

    def items(self) -> list[dict[str, object]]:
        return [{"productId": p, "quantity": q} for p, q in self.lines]


def zipf_weights(count: int, exponent: float) -> list[float]:
    """Popularity of rank 1..count, normalised to sum 1 (exponent 0: uniform)."""
    raw = [1.0 / (rank ** exponent) for rank in range(1, count + 1)]
    total = sum(raw)
    return [w / total for w in raw]


class Workload:
    def __init__(self, config: BenchConfig, products: list[str], customers: list[str]) -> None:
        if not products or not customers:
            raise ValueError("a workload needs products and customers")
        self.config = config
        self.products = products
        self.customers = customers
        self.weights = zipf_weights(len(products), config.zipf)
        self._cumulative = list(itertools.accumulate(self.weights))
        self._random = random.Random(config.seed)
        self.max_lines = max(1, min(config.max_lines, len(products)))
        self.min_lines = max(1, min(config.min_lines, self.max_lines))

    def _pick_products(self, count: int) -> list[str]:
        chosen: dict[str, None] = {}
        while len(chosen) < count:  # distinct lines; terminates, count <= len(products)
            chosen[self._random.choices(self.products, cum_weights=self._cumulative)[0]] = None
        return list(chosen)

    def order(self, index: int) -> Order:
        pick = self._random
        products = self._pick_products(pick.randint(self.min_lines, self.max_lines))
        lines = tuple((p, pick.randint(1, MAX_UNITS_PER_LINE)) for p in products)
        card = DECLINING_CARD if pick.random() < self.config.decline_share else PAYING_CARD
        cancel = card != DECLINING_CARD and pick.random() < self.config.cancel_share
        return Order(index, pick.choice(self.customers), lines, card, cancel)

    def price_update(self, index: int, now_ms: int) -> tuple[str, dict[str, object]]:
        """A PriceUpdated record (productId, record) for a Zipf-picked product."""
        product = self._pick_products(1)[0]
        cents = 500 + (index * 37) % 1500
        return product, {"productId": product, "priceCents": cents, "currency": "USD", "effectiveAt": now_ms}

    def stock_needed(self, orders: int) -> dict[str, int]:
        """Units per product that comfortably cover ``orders`` orders (3x the mean demand)."""
        mean_lines = (self.min_lines + self.max_lines) / 2
        mean_units = (1 + MAX_UNITS_PER_LINE) / 2
        return {p: 3 * math.ceil(orders * mean_lines * mean_units * w) + 20
                for p, w in zip(self.products, self.weights, strict=True)}
