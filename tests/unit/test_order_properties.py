"""tables.orders under any sequence of messages: history stays legal, duplicates
change nothing, undone orders give their stock back, paid ones sell it, and
every change bumps the revision. A second property runs the saga against the
stock logic (tables.stock) and checks both sides agree once the messages settle.
"""

from __future__ import annotations

from collections import deque
from itertools import count, pairwise
from typing import Any

from hypothesis import given, note, settings
from hypothesis import strategies as hs

from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec
from orderflow.tables import order_status as st
from orderflow.tables import orders as saga
from orderflow.tables import stock

CODEC = Codec()
NOW = 1_700_000_000_000
TIMEOUT_MS = 60_000
SETTINGS = settings(max_examples=200, deadline=None)

Row = dict[str, Any]
Message = tuple[str, dict[str, Any]]


def product(line: int) -> str:
    return f"sku-{line}"


def place_order(lines: int, quantity: int = 1) -> dict[str, Any]:
    return {"orderId": "ord_1", "customerId": "cust_1", "paymentMethodId": "pm_visa", "placedAt": NOW,
            "items": [{"productId": product(i), "quantity": quantity + i, "priceCents": None} for i in range(lines)]}


def line_result(line: int, outcome: str, quantity: int = 1, price: int | None = 100,
                reason: str | None = None) -> dict[str, Any]:
    return {"orderId": "ord_1", "line": line, "productId": product(line), "quantity": quantity,
            "outcome": outcome, "unitPriceCents": price, "reason": reason}


def envelope(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"eventId": f"evt_{kind}", "eventType": kind, "timestamp": "2023-11-14T22:13:20.000Z",
            "version": "1.0", "data": {"orderId": "ord_1", **data}}


def payment_event(kind: str, error: str = "card_declined") -> dict[str, Any]:
    return envelope(kind, {"paymentId": "pay_1", "customerId": "cust_1", "amountCents": 0,
                           "errorCode": error if kind == "PaymentFailed" else None})


def check_result(passed: bool, reason: str = "velocity_limit") -> dict[str, Any]:
    return {"orderId": "ord_1", "customerId": "cust_1", "passed": passed, "reason": None if passed else reason}


# --- strategies -------------------------------------------------------------------------

# Stock results and payments come more often than cancels, so orders get far.
KINDS = (["LineResult"] * 8 + ["CustomerCheckResult", "PaymentCompleted"] * 3 + ["Shipped", "again"] * 2
         + ["PaymentAuthorized", "PaymentFailed", "PaymentRefunded", "Delivered", "CancelOrder", "ExpireOrder",
            "PlaceOrder"])


@hs.composite
def scenarios(draw: hs.DrawFn) -> tuple[int, list[tuple[Message, int]]]:
    """An order of 1-3 lines and the messages it then gets, each with the time elapsed before it."""
    lines = draw(hs.integers(1, 3))
    played: list[tuple[Message, int]] = []
    for kind in draw(hs.lists(hs.sampled_from(KINDS), min_size=8, max_size=40)):
        elapsed = draw(hs.sampled_from([0, 1_000, TIMEOUT_MS // 2, TIMEOUT_MS]))
        if kind == "again":
            if not played:
                continue
            msg = draw(hs.sampled_from(played))[0]
        elif kind == "LineResult":
            # mostly lines of the order, now and then one that is not
            msg = (kind, line_result(draw(hs.sampled_from([*range(lines)] * 3 + [-1, lines])),
                                     draw(hs.sampled_from(["reserved"] * 4 + ["rejected", "released", "sold"])),
                                     reason=draw(hs.sampled_from([None, "out_of_stock", "price_changed"]))))
        elif kind == "CustomerCheckResult":
            passed = draw(hs.sampled_from([True, True, True, False]))  # mostly passed, so orders get paid
            msg = (kind, check_result(passed, draw(hs.sampled_from(["unknown_customer", "velocity_limit"]))))
        elif kind == "PaymentFailed":
            msg = (kind, payment_event(kind, draw(hs.sampled_from(["card_declined", saga.EXPIRED]))))
        elif kind.startswith("Payment"):
            msg = (kind, payment_event(kind))
        elif kind in ("Shipped", "Delivered"):
            msg = (kind, envelope(kind, {}))
        elif kind == "CancelOrder":
            msg = (kind, {"orderId": "ord_1", "reason": draw(hs.sampled_from([None, "changed_my_mind"]))})
        elif kind == "ExpireOrder":
            msg = (kind, {"orderId": "ord_1", "deadline": 0})
        else:
            msg = (kind, place_order(lines, quantity=7))
        played.append((msg, elapsed))
    return lines, played


# --- checks -----------------------------------------------------------------------------

def check_change(old: Row, new: Row) -> None:
    # (d) revision strictly increases on every change
    assert new["revision"] > old["revision"]
    # (a) history only grows, and every recorded status change is legal
    assert new["history"][:len(old["history"])] == old["history"]
    for before, after in pairwise(new["history"]):
        assert st.is_legal(st.ORDER_TRANSITIONS, before["status"], after["status"]), (before, after)
    assert new["status"] == new["history"][-1]["status"]
    for was, now in zip(old["items"], new["items"], strict=True):
        assert was["status"] == now["status"] or st.is_legal(st.LINE_TRANSITIONS, was["status"], now["status"])
    assert old["paymentStatus"] == new["paymentStatus"] or \
        st.is_legal(st.PAYMENT_TRANSITIONS, old["paymentStatus"], new["paymentStatus"])


def check_effects(row: Row) -> None:
    """(c) reserved or sold lines of an undone order are released, reserved lines of a paid one sold."""
    items, effects = row["items"], saga.effects(row)
    reserved = [i for i, line in enumerate(items) if line["status"] == "reserved"]
    decided = all(line["status"] != "pending" for line in items)
    if row["status"] == st.PENDING and decided:
        # every line is in: the order waits only for its customer check, and asks for it
        assert row["customerCheck"] == "pending" and saga.CheckCustomer() in effects
    held = [i for i, line in enumerate(items) if line["status"] in ("reserved", "sold")]
    if row["status"] in st.UNDONE:
        assert {saga.Release(i) for i in held} <= effects
    if row["status"] in st.PAID:
        assert {saga.Sell(i) for i in reserved} <= effects
    if row["status"] in st.PAID | {st.PENDING_PAYMENT}:
        assert all(line["status"] not in ("pending", "rejected") for line in items)
    if row["status"] not in st.UNDONE:
        assert not any(isinstance(effect, saga.Release | saga.Refund) for effect in effects)


@SETTINGS
@given(scenarios())
def test_any_message_sequence_keeps_the_order_consistent(scenario):
    lines, played = scenario
    now, offsets = NOW, count(1)
    row = saga.decide(None, "PlaceOrder", place_order(lines),
                      saga.Context(now, "orders.commands/0/0", TIMEOUT_MS)).row
    for (kind, msg), elapsed in played:
        now += elapsed
        decision = saga.decide(row, kind, msg, saga.Context(now, f"t/0/{next(offsets)}", TIMEOUT_MS))
        if decision.row is None:
            continue
        note(f"{kind} -> {decision.row['status']}")
        check_change(row, decision.row)
        # (b) the same message again, right away, changes nothing
        again = saga.decide(decision.row, kind, msg, saga.Context(now, f"t/0/{next(offsets)}", TIMEOUT_MS))
        assert again.row is None, f"{kind} applied twice changed the row again"
        row = decision.row
        check_effects(row)
        CODEC.encode(catalog.ORDERS_TABLE.value_schema, row)
    ids = [event["eventId"] for _, event in saga.new_events(None, row)]
    assert len(ids) == len(set(ids))


# --- the saga against the stock logic ----------------------------------------------------

class World:
    """One order and the stock of its products, messages passed in order per topic."""

    def __init__(self, lines: int, on_hand: list[int]) -> None:
        self.now, self.offsets = NOW, count(1)
        self.stock: dict[str, Row] = {}
        for i, units in enumerate(on_hand):
            self.stock[product(i)] = stock.adjust(None, "Restocked",
                                                  {"adjustmentId": f"adj_{i}", "productId": product(i),
                                                   "quantity": units})
        self.initial_on_hand = {p: s["onHand"] for p, s in self.stock.items()}
        self.reservations: dict[tuple[str, int], Row] = {}
        self.stock_requests: deque[saga.Effect] = deque()
        self.stock_results: deque[dict[str, Any]] = deque()
        self.last_result: dict[str, Any] | None = None
        self.row: Row | None = None
        self.to_order("PlaceOrder", place_order(lines))

    def to_order(self, kind: str, msg: dict[str, Any]) -> None:
        ctx = saga.Context(self.now, f"t/0/{next(self.offsets)}", TIMEOUT_MS)
        decision = saga.decide(self.row, kind, msg, ctx)
        if decision.row is not None:
            self.send(saga.new_effects(self.row, decision.row))
            self.row = decision.row

    def send(self, effects: list[saga.Effect]) -> None:
        self.stock_requests.extend(e for e in effects if isinstance(e, saga.Reserve | saga.Release | saga.Sell))

    def replay(self) -> None:
        """As after a crash: the agent sends every effect of the row again."""
        assert self.row is not None
        self.send(saga.in_order(saga.effects(self.row)))

    def stock_step(self) -> None:
        effect = self.stock_requests.popleft()
        kind, line = effect.name, effect.line
        assert self.row is not None
        item = self.row["items"][line]
        cmd = {"orderId": "ord_1", "line": line, "productId": item["productId"], "quantity": item["quantity"],
               "requestedPriceCents": item["requestedPriceCents"]}
        key = (item["productId"], line)
        current, reservation = self.stock.get(item["productId"]), self.reservations.get(key)
        if kind == "reserve":
            decision = stock.reserve(current, reservation, cmd, price=100)
        elif kind == "release":
            decision = stock.release(current, reservation, cmd)
        else:
            found = stock.sell(current, reservation, cmd)
            assert found is not None, "the saga sold a line that was never reserved"
            decision = found
        if decision.stock is not None:
            self.stock[item["productId"]] = decision.stock
        if decision.reservation is not None:
            self.reservations[key] = decision.reservation
        self.stock_results.append(decision.result)

    def result_step(self) -> None:
        self.last_result = self.stock_results.popleft()
        self.to_order("LineResult", self.last_result)

    def settle(self) -> None:
        while self.stock_requests or self.stock_results:
            while self.stock_requests:
                self.stock_step()
            while self.stock_results:
                self.result_step()


# "stock"/"result": pass on the next stock request/result; "replay": the agent re-sends the
# row's effects; "again": the last result once more; "late": the payment window passes;
# "CheckPassed"/"CheckFailed": the customer check's answer.
CALM_STEPS = (["stock"] * 4 + ["result"] * 4 + ["PaymentCompleted", "CheckPassed"] * 3 + ["Shipped"] * 2
              + ["replay", "again", "PaymentAuthorized", "Delivered"])
ROUGH_STEPS = CALM_STEPS + ["CheckFailed", "late", "PaymentFailed", "PaymentExpired", "CancelOrder", "ExpireOrder"]
# Half the runs without cancels, failures or timeouts, so orders also get paid and shipped.
STEPS = hs.sampled_from([CALM_STEPS, ROUGH_STEPS]).flatmap(
    lambda kinds: hs.lists(hs.sampled_from(kinds), min_size=15, max_size=60))


@SETTINGS
@given(lines=hs.integers(1, 3), on_hand=hs.lists(hs.integers(0, 4), min_size=3, max_size=3), steps=STEPS)
def test_order_and_stock_agree_once_the_messages_settle(lines, on_hand, steps):
    world = World(lines, on_hand)
    for step in steps:
        if step == "stock" and world.stock_requests:
            world.stock_step()
        elif step == "result" and world.stock_results:
            world.result_step()
        elif step == "replay":
            world.replay()
        elif step == "again" and world.last_result is not None:
            world.to_order("LineResult", world.last_result)
        elif step == "late":
            world.now += TIMEOUT_MS
        elif step in ("CheckPassed", "CheckFailed"):
            world.to_order("CustomerCheckResult", check_result(step == "CheckPassed"))
        elif step == "PaymentExpired":
            world.to_order("PaymentFailed", payment_event("PaymentFailed", saga.EXPIRED))
        elif step.startswith("Payment"):
            world.to_order(step, payment_event(step))
        elif step in ("Shipped", "Delivered"):
            world.to_order(step, envelope(step, {}))
        elif step in ("CancelOrder", "ExpireOrder"):
            world.to_order(step, {"orderId": "ord_1", "reason": None, "deadline": 0})
    world.settle()

    row = world.row
    assert row is not None
    note(f"history: {[h['status'] for h in row['history']]}, lines: {[i['status'] for i in row['items']]}")
    assert row["status"] != st.PENDING or not any(i["status"] == "pending" for i in row["items"])
    for line, item in enumerate(row["items"]):
        reservation = world.reservations.get((item["productId"], line))
        # the order's view of each line is the stock's
        assert reservation is not None and reservation["state"] == item["status"], (line, item, reservation)
    for item in row["items"]:
        level = world.stock[item["productId"]]
        held = item["quantity"] if item["status"] == "reserved" else 0
        sold = item["quantity"] if item["status"] == "sold" else 0
        assert level["reserved"] == held
        assert level["onHand"] == world.initial_on_hand[item["productId"]] - sold
        assert stock.available(level) >= 0
    if row["status"] in st.UNDONE:
        assert not any(i["status"] in ("reserved", "sold") for i in row["items"]), "an undone order kept stock"
    if row["status"] in st.PAID:
        assert all(i["status"] == "sold" for i in row["items"]), "a paid order has unsold lines"
    if row["status"] == st.PENDING_PAYMENT:
        assert all(i["status"] == "reserved" for i in row["items"])


def test_cancelling_a_confirmed_order_returns_its_units_to_stock():
    # its lines are sold as soon as it is paid; the release after the cancel puts them back
    world = World(1, [5, 0, 0])
    world.settle()
    world.to_order("CustomerCheckResult", check_result(True))
    world.to_order("PaymentCompleted", payment_event("PaymentCompleted"))
    world.to_order("CancelOrder", {"orderId": "ord_1", "reason": None})
    world.settle()
    assert world.row is not None
    assert [h["status"] for h in world.row["history"]] == ["pending", "pending_payment", "confirmed", "cancelled"]
    assert world.row["items"][0]["status"] == "released"
    assert (world.stock["sku-0"]["onHand"], world.stock["sku-0"]["reserved"]) == (5, 0)
