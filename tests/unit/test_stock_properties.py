"""tables.stock under any sequence of reserve / release / sell / adjust / price
operations over a few products and orders, duplicates included: units are
conserved (on hand is what the adjustments put there, less the sold lines not
given back), reservations are counted once, and only inventory corrections can
make available stock negative.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hypothesis import given, note, settings
from hypothesis import strategies as hs

from orderflow.tables import prices, stock

SETTINGS = settings(max_examples=200, deadline=None)
PRODUCTS = ("sku-a", "sku-b")
DEFAULT_PRICE = 500
LINE_OPS = ("reserve", "release", "sell")

Row = dict[str, Any]
Key = tuple[str, str, int]  # product, order, line, as the reservations table keys them


def product_of(order: int, line: int) -> str:
    """Each order line is for one product, whatever the operation."""
    return PRODUCTS[(order + line) % len(PRODUCTS)]


line_ops = hs.tuples(hs.sampled_from(["reserve"] * 3 + ["sell"] * 2 + ["release"]), hs.integers(0, 1),
                     hs.integers(0, 1), hs.integers(1, 3), hs.sampled_from([None, None, None, "current", "other"]))
adjustments = hs.tuples(hs.sampled_from(["Restocked", "Adjusted", "StockSet"]), hs.sampled_from(PRODUCTS),
                        hs.integers(0, 5).map(lambda i: f"adj_{i}"), hs.integers(-3, 6))
price_updates = hs.tuples(hs.just("PriceUpdated"), hs.sampled_from(PRODUCTS), hs.integers(0, 3), hs.integers(100, 103))
# Mostly order lines, so reservations compete for the same units.
operations = hs.lists(hs.sampled_from(["line"] * 6 + ["adjust", "price", "again"]).flatmap(
    lambda kind: {"line": line_ops, "adjust": adjustments, "price": price_updates, "again": hs.just(("again",))}[kind]),
    min_size=10, max_size=50)
# Most products start with a stock row, so most reservations get as far as the stock check.
opening_stock = hs.fixed_dictionaries({p: hs.one_of(hs.none(), hs.integers(0, 8), hs.integers(0, 8))
                                       for p in PRODUCTS})


class Ledger:
    """The stock rows and reservations, and what the tests expect of them."""

    def __init__(self, opening: dict[str, int | None]) -> None:
        self.stock: dict[str, Row | None] = dict.fromkeys(PRODUCTS)
        self.reservations: dict[Key, Row] = {}
        self.prices: dict[str, Row] = {}
        self.expected_on_hand: dict[str, int] = dict.fromkeys(PRODUCTS, 0)
        self.applied: dict[str, set[str]] = defaultdict(set)
        self.reserves_taken: dict[Key, int] = defaultdict(int)
        for product, units in opening.items():
            if units is not None:
                self.adjust("Restocked", product, "opening", units)

    def line(self, op: str, order: int, line: int, quantity: int, price: str | None) -> None:
        product = product_of(order, line)
        key = (product, f"ord_{order}", line)
        cmd = {"orderId": key[1], "line": line, "productId": product, "quantity": quantity,
               "requestedPriceCents": self._price(product, price)}
        level, reservation = self.stock[product], self.reservations.get(key)
        before = stock.available(level) if level is not None else None
        if op == "reserve":
            decision = stock.reserve(level, reservation, cmd, self._current_price(product))
        elif op == "release":
            decision = stock.release(level, reservation, cmd)
        else:
            found = stock.sell(level, reservation, cmd)
            if found is None:
                assert reservation is None
                return
            decision = found
        if reservation is not None:
            # a recorded line only moves on: reserved -> released or sold, sold -> released
            change = (reservation["state"], decision.reservation["state"]) if decision.reservation else None
            assert change in (None, ("reserved", "released"), ("reserved", "sold"), ("sold", "released")), change
            assert decision.reservation is None or decision.reservation["quantity"] == reservation["quantity"]
        else:
            assert decision.reservation is not None, "a line's first request must be recorded"
        if decision.stock is not None:
            assert level is not None and before is not None
            new = decision.stock
            if op == "reserve":
                self.reserves_taken[key] += 1
                assert self.reserves_taken[key] == 1, f"{key} reserved twice"
                assert stock.available(new) >= 0, "a reservation made available stock negative"
            elif op == "release":
                assert reservation is not None
                assert stock.available(new) == before + reservation["quantity"]
                if reservation["state"] == "sold":  # the units of a sold line go back on the shelf
                    self.expected_on_hand[product] += reservation["quantity"]
            else:
                assert reservation is not None
                assert stock.available(new) == before
                self.expected_on_hand[product] -= reservation["quantity"]
            self.stock[product] = new
        if decision.reservation is not None:
            self.reservations[key] = decision.reservation
        outcome = self.reservations[key]["state"]
        assert decision.result["outcome"] == outcome
        assert (decision.result["orderId"], decision.result["line"]) == (key[1], line)

    def adjust(self, kind: str, product: str, adjustment_id: str, amount: int) -> None:
        msg = {"adjustmentId": adjustment_id, "productId": product, "quantity": abs(amount), "delta": amount,
               "onHand": abs(amount)}
        new = stock.adjust(self.stock[product], kind, msg)
        if adjustment_id in self.applied[product]:
            assert new is None, f"{adjustment_id} applied twice to {product}"
            return
        assert new is not None
        self.applied[product].add(adjustment_id)
        if kind == "StockSet":
            self.expected_on_hand[product] = abs(amount)
        else:
            self.expected_on_hand[product] += amount if kind == "Adjusted" else abs(amount)
        self.stock[product] = new

    def update_price(self, product: str, at: int, cents: int) -> None:
        new = prices.apply_update(self.prices.get(product), {"productId": product, "priceCents": cents,
                                                             "effectiveAt": at})
        if new is not None:
            self.prices[product] = new

    def _current_price(self, product: str) -> int:
        return prices.price_of(self.prices.get(product), DEFAULT_PRICE)[0]

    def _price(self, product: str, choice: str | None) -> int | None:
        current = self._current_price(product)
        return None if choice is None else current if choice == "current" else current + 1

    def check(self) -> None:
        for product, level in self.stock.items():
            if level is None:
                continue
            assert level["onHand"] == self.expected_on_hand[product], "units appeared or vanished"
            held = sum(r["quantity"] for (p, _, _), r in self.reservations.items()
                       if p == product and r["state"] == "reserved")
            assert level["reserved"] == held, "reserved does not match the reservations held"
            assert level["reserved"] >= 0


@SETTINGS
@given(opening_stock, operations)
def test_units_are_conserved_and_reservations_counted_once(opening, ops):
    ledger = Ledger(opening)
    previous: tuple[Any, ...] | None = None
    for op in ops:
        if op[0] == "again":
            if previous is None:
                continue
            op = previous
        note(repr(op))
        if op[0] in LINE_OPS:
            ledger.line(*op)
        elif op[0] == "PriceUpdated":
            ledger.update_price(*op[1:])
        else:
            ledger.adjust(*op)
        ledger.check()
        previous = op
