"""Agent ``manage_stock``: the single writer of every product's stock.

Consumes, both keyed by productId and co-partitioned: stock.requests
(ReserveLine, ReleaseLine, SellLine from the order saga) and
inventory.adjustments (Restocked, Adjusted, StockSet, LowStockThresholdSet).
Owns the table ``stock``: each product's stock row and, under
productId/orderId/line, each line's reservation (catalog ``reservations``,
stored in the stock table so one changelog partition orders their writes).
Reads ``prices`` (the price agent's, same partition) to stamp each reserved
line with its unit price.
Produces stock.results (keyed by orderId; a reserve's or a release's
answer, a sell has none) and inventory.events (LowStock,
OutOfStock, BackInStock once per crossing; StockShortage alerts; and
InventoryReserved, InventoryReleased per order line, re-sent with the same
eventId whenever its answer is).

A thin adapter around ``tables.stock``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orderflow.agents.runtime import Inbound
from orderflow.schemas import catalog
from orderflow.schemas.messages import (
    LineResult,
    ProductPrice,
    ReleaseLine,
    Reservation,
    ReserveLine,
    SellLine,
    StockLevel,
)
from orderflow.tables import prices
from orderflow.tables import stock as logic
from orderflow.tables.clock import iso, now_ms

if TYPE_CHECKING:
    from orderflow.agents.app import Pipeline

__all__ = ["SOURCES", "StockKeeper", "register"]

AGENT = catalog.MANAGE_STOCK
SOURCES = (catalog.STOCK_REQUESTS, catalog.INVENTORY_ADJUSTMENTS)


def reservation_key(cmd: logic.LineCommand) -> bytes:
    # Starts with the productId: always written from the product's partition.
    return f"{cmd['productId']}/{cmd['orderId']}/{cmd['line']}".encode()


class StockKeeper:
    def __init__(self, pipeline: Pipeline) -> None:
        self.stock = pipeline.rows(catalog.STOCK_TABLE, StockLevel, writer=AGENT)
        self.reservations = pipeline.rows(catalog.RESERVATIONS_TABLE, Reservation, writer=AGENT)
        self.prices = pipeline.rows(catalog.PRICES_TABLE, ProductPrice)
        self.outbox = pipeline.outbox_for(AGENT)
        self.watchers = pipeline.watchers
        self.default_price = pipeline.settings.default_price_cents
        self.low_stock_threshold = pipeline.settings.low_stock_threshold

    async def handle(self, msg: Inbound) -> str:
        if msg.topic == catalog.STOCK_REQUESTS.name:
            return await self._line(msg)
        old = self.stock.get(msg.key)
        if old is not None and old["appliedOffsets"].get(msg.topic, -1) >= msg.offset:
            return "replayed"
        new = logic.adjust(old, msg.kind, msg.record)
        if new is None:
            return "unchanged"
        new["appliedOffsets"] = {**new["appliedOffsets"], msg.topic: msg.offset}
        await self._store(msg, old, new)
        return "applied"

    async def _store(self, msg: Inbound, old: StockLevel | None, new: StockLevel) -> None:
        """Write the stock row and announce the level crossings it makes."""
        self.stock.put(msg.key, new)
        self.watchers.notify(msg.key)
        for kind, event in logic.level_events(old, new, self.low_stock_threshold, msg.cause, iso(now_ms())):
            await self.outbox.send(catalog.INVENTORY_EVENTS, new["productId"], kind, event)

    async def _line(self, msg: Inbound) -> str:
        """Reserve, release or sell one order line.

        One message changes two rows, the reservation and then the stock row,
        both in the stock table's changelog partition, whose records a kill -9
        can only cut short, never reorder: it may keep the reservation's change
        without the stock row's, never the reverse. So a replay finds either
        both (the stock row's applied offset says so: answer again), or the
        change in the reservation's history only (apply it to the stock row),
        or neither.
        """
        cmd = self._command(msg)
        key = reservation_key(cmd)
        stock, reservation = self.stock.get(msg.key), self.reservations.get(key)
        change = logic.change_at(reservation, msg.offset)
        if stock is not None and stock["appliedOffsets"].get(msg.topic, -1) >= msg.offset:
            if reservation is not None:
                left = reservation if change is None else logic.as_changed_by(reservation, change)
                await self._answer(msg.kind, cmd, left)
            return "replayed"
        if stock is not None and reservation is not None and change is not None:
            repaired = logic.apply_change(stock, reservation["quantity"], change)
            await self._store(msg, stock, logic.record_applied(repaired, msg.topic, msg.offset))
            await self._answer(msg.kind, cmd, logic.as_changed_by(reservation, change))
            return "repaired"
        decision = self._decide(msg, stock, reservation)
        if decision is None:
            return "ignored"
        record = decision.reservation
        if record is not None:
            record = logic.stamped(record, msg.offset)
            self.reservations.put(key, record)
        if stock is not None:
            new = decision.stock if decision.stock is not None else stock
            await self._store(msg, stock, logic.record_applied(new, msg.topic, msg.offset))
        await self._answer(msg.kind, cmd, record or reservation, decision.result)
        return "applied" if record is not None else "unchanged"

    @staticmethod
    def _command(msg: Inbound) -> logic.LineCommand:
        if msg.kind == "ReserveLine":
            return msg.record_as(ReserveLine)
        if msg.kind == "ReleaseLine":
            return msg.record_as(ReleaseLine)
        return msg.record_as(SellLine)

    def _decide(self, msg: Inbound, stock: StockLevel | None, reservation: Reservation | None
                ) -> logic.LineDecision | None:
        if msg.kind == "ReserveLine":
            cmd = msg.record_as(ReserveLine)
            price, _currency = prices.price_of(self.prices.get(cmd["productId"].encode()), self.default_price)
            return logic.reserve(stock, reservation, cmd, price)
        if msg.kind == "ReleaseLine":
            return logic.release(stock, reservation, msg.record_as(ReleaseLine))
        return logic.sell(stock, reservation, msg.record_as(SellLine))

    async def _answer(self, kind: str, cmd: logic.LineCommand, left: Reservation | None,
                      result: LineResult | None = None) -> None:
        """Tell the saga what became of the line (``left``: the reservation as the command left it),
        and the world what it did to the product's stock (a sell is not answered, and announces
        nothing: ``tables.stock.answered``)."""
        if not logic.answered(kind):
            return
        if result is None:
            if left is None:
                raise ValueError("an answer needs the reservation or the result")
            result = logic.result_of(cmd, left)
        await self.outbox.send(catalog.STOCK_RESULTS, cmd["orderId"], "LineResult", result)
        event = logic.line_event(kind, cmd, result, left["previousState"] if left else None, iso(now_ms()))
        if event is not None:
            await self.outbox.send(catalog.INVENTORY_EVENTS, cmd["productId"], *event)


def register(pipeline: Pipeline) -> StockKeeper:
    keeper = StockKeeper(pipeline)
    pipeline.add_agent(AGENT, SOURCES, keeper.handle)

    return keeper
