"""Pure stock logic: reserve, release and sell order lines against a
product's stock row, and apply inventory adjustments.

Consumes and returns the typed dicts of ``schemas.messages``: ``StockLevel``
and ``Reservation`` rows, the stock requests, ``LineResult``; no I/O. A product's stock row has one
writer, the stock agent of its partition. Each order line's reservation is
recorded per (product, order, line), so a replayed or duplicated request finds
its record and re-sends the same result instead of reserving twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orderflow.schemas import messages as m
from orderflow.tables.envelope import Event, envelope
from orderflow.tables.money import amount

__all__ = [
    "LineDecision",
    "RECENT_ADJUSTMENTS",
    "adjust",
    "answered",
    "apply_change",
    "as_changed_by",
    "available",
    "band",
    "change_at",
    "record_applied",
    "stamped",
    "result_of",
    "level_events",
    "line_event",
    "new_stock",
    "release",
    "reserve",
    "sell",
    "threshold_of",
]

Row = m.StockLevel
Reservation = m.Reservation
LineCommand = m.ReserveLine | m.ReleaseLine | m.SellLine
RECENT_ADJUSTMENTS = 64


@dataclass(frozen=True)
class LineDecision:
    """New stock row and reservation (None: unchanged) and the result to send."""

    stock: Row | None
    reservation: Reservation | None
    result: m.LineResult


def _copy(stock: Row) -> Row:
    # A shallow copy is enough: nothing here changes a row's nested lists or
    # maps in place (they are replaced whole).
    return stock.copy()


def new_stock(product_id: str) -> Row:
    return {"productId": product_id, "onHand": 0, "reserved": 0, "appliedOffsets": {}, "recentAdjustments": [],
            "lowStockThreshold": None}


def available(stock: Row) -> int:
    return stock["onHand"] - stock["reserved"]


def answered(kind: str) -> bool:
    """Whether the saga is told what a line command of ``kind`` did. A sell is not: the saga
    marks the line sold as it sends it (a held reservation cannot refuse a sell), so its
    answer would tell nobody anything."""
    return kind != "SellLine"


def result_of(cmd: LineCommand, reservation: Reservation) -> m.LineResult:
    """The LineResult telling what a reservation record says of the line."""
    return _result(cmd, reservation)


def _result(cmd: LineCommand, reservation: Reservation) -> m.LineResult:
    return {"orderId": cmd["orderId"], "line": cmd["line"], "productId": cmd["productId"],
            "quantity": reservation["quantity"], "outcome": reservation["state"],
            "unitPriceCents": reservation["unitPriceCents"], "reason": reservation["reason"]}


def _record(state: m.ReservationState, quantity: int, price: int | None = None, reason: str | None = None
            ) -> Reservation:
    return {"state": state, "quantity": quantity, "unitPriceCents": price, "reason": reason,
            "previousState": None, "history": []}


def reserve(stock: Row | None, reservation: Reservation | None, cmd: m.ReserveLine, price: int) -> LineDecision:
    """Reserve the line at unit ``price`` (the product's current one) if available
    stock covers it, else reject it with the reason."""
    if reservation is not None:
        return LineDecision(None, None, _result(cmd, reservation))
    quantity = cmd["quantity"]
    if stock is None:
        rejected = _record("rejected", quantity, reason="unknown_product")
        return LineDecision(None, rejected, _result(cmd, rejected))
    requested = cmd.get("requestedPriceCents")
    if requested is not None and requested != price:
        rejected = _record("rejected", quantity, price, "price_changed")
        return LineDecision(None, rejected, _result(cmd, rejected))
    if quantity <= 0 or quantity > available(stock):
        rejected = _record("rejected", quantity, price, "out_of_stock")
        return LineDecision(None, rejected, _result(cmd, rejected))
    new = _copy(stock)
    new["reserved"] += quantity
    reserved = _record("reserved", quantity, price)
    return LineDecision(new, reserved, _result(cmd, reserved))


def release(stock: Row | None, reservation: Reservation | None, cmd: m.ReleaseLine) -> LineDecision:
    """Give a reserved (or sold, unshipped) line back; anything else only re-sends its outcome."""
    if reservation is None:
        # Nothing was reserved: record the release so a late reserve cannot take stock.
        released = _record("released", 0)
        return LineDecision(None, released, _result(cmd, released))
    if reservation["state"] not in ("reserved", "sold") or stock is None:
        return LineDecision(None, None, _result(cmd, reservation))
    new = _copy(stock)
    if reservation["state"] == "reserved":
        new["reserved"] -= reservation["quantity"]
    else:  # sold but not shipped: the units are back on the shelf
        new["onHand"] += reservation["quantity"]
    released = {**reservation, "state": "released", "previousState": reservation["state"]}
    return LineDecision(new, released, _result(cmd, released))


def sell(stock: Row | None, reservation: Reservation | None, cmd: m.SellLine) -> LineDecision | None:
    """Turn a reserved line into sold stock: on hand and reserved both drop."""
    if reservation is None:
        return None  # never reserved: nothing to sell, nothing to say
    if reservation["state"] != "reserved" or stock is None:
        return LineDecision(None, None, _result(cmd, reservation))
    new = _copy(stock)
    new["reserved"] -= reservation["quantity"]
    new["onHand"] -= reservation["quantity"]
    sold: Reservation = {**reservation, "state": "sold", "previousState": "reserved"}
    return LineDecision(new, sold, _result(cmd, sold))


def adjust(stock: Row | None, kind: str, msg: Any) -> Row | None:
    """Apply Restocked, Adjusted, StockSet or LowStockThresholdSet (``msg`` is
    the message ``kind`` names); None when it was applied before."""
    current = stock if stock is not None else new_stock(msg["productId"])
    if msg["adjustmentId"] in current["recentAdjustments"]:
        return None
    new = _copy(current)
    if kind == "Restocked":
        new["onHand"] += msg["quantity"]
    elif kind == "Adjusted":
        new["onHand"] += msg["delta"]
    elif kind == "StockSet":
        # Below what is reserved, available goes negative; reservations stand.
        new["onHand"] = msg["onHand"]
    elif kind == "LowStockThresholdSet":
        new["lowStockThreshold"] = msg["threshold"]
    else:
        raise ValueError(f"not an inventory adjustment: {kind}")
    new["recentAdjustments"] = [*current["recentAdjustments"], msg["adjustmentId"]][-RECENT_ADJUSTMENTS:]
    return new


def threshold_of(stock: Row, default_threshold: int) -> int:
    """The product's own low-stock threshold, else the deployment's."""
    threshold = stock.get("lowStockThreshold")
    return default_threshold if threshold is None else threshold


def band(stock: Row, default_threshold: int) -> str:
    """``out`` (nothing available), ``low`` (under the threshold) or ``ok``."""
    threshold = threshold_of(stock, default_threshold)
    level = available(stock)
    return "out" if level <= 0 else "low" if level < threshold else "ok"


# Which event a move from one band to another announces; moves not listed say nothing.
CROSSINGS = {("ok", "low"): "LowStock", ("ok", "out"): "OutOfStock", ("low", "out"): "OutOfStock",
             ("out", "low"): "BackInStock", ("out", "ok"): "BackInStock"}


def level_events(old: Row | None, new: Row, default_threshold: int, cause: str, at_iso: str
                 ) -> list[Event]:
    """The inventory events a change of a stock row makes: one per crossing.

    A product seen for the first time announces nothing; ``cause`` (the
    message's topic/partition/offset) makes each eventId deterministic.
    """
    if old is None:
        return []
    kinds = []
    crossing = CROSSINGS.get((band(old, default_threshold), band(new, default_threshold)))
    if crossing is not None:
        kinds.append(crossing)
    if new["onHand"] < new["reserved"] and not old["onHand"] < old["reserved"]:
        kinds.append("StockShortage")
    data = {"productId": new["productId"], "onHand": new["onHand"], "reserved": new["reserved"],
            "available": available(new), "threshold": threshold_of(new, default_threshold)}
    return [envelope(kind, f"evt_{new['productId']}_{kind}_{cause}", at_iso, data) for kind in kinds]


# --- crash repair: one message writes two rows, the reservation and then the
# stock row, into one changelog partition, so after a kill -9 a stock row
# never counts a change its reservation lacks; the reverse (the reservation
# has the change, the stock row not) is repaired from the reservation's history.

def stamped(record: Reservation, offset: int) -> Reservation:
    """The reservation record of a change made by the stock.requests message at ``offset``."""
    change: m.ReservationChange = {"offset": offset, "previousState": record["previousState"],
                                   "state": record["state"]}
    return {**record, "history": [*record["history"], change]}


def change_at(reservation: Reservation | None, offset: int) -> m.ReservationChange | None:
    """The change the message at ``offset`` made to this line, if it made one."""
    if reservation is None:
        return None
    return next((c for c in reservation["history"] if c["offset"] == offset), None)


def as_changed_by(reservation: Reservation, change: m.ReservationChange) -> Reservation:
    """The reservation as the change left it (what its answer said)."""
    return {**reservation, "state": change["state"], "previousState": change["previousState"]}


def apply_change(stock: Row, quantity: int, change: m.ReservationChange) -> Row:
    """The stock row with the effect of one change of a line applied."""
    new = _copy(stock)
    transition = (change["previousState"], change["state"])
    if transition == (None, "reserved"):
        new["reserved"] += quantity
    elif transition == ("reserved", "released"):
        new["reserved"] -= quantity
    elif transition == ("sold", "released"):
        new["onHand"] += quantity
    elif transition == ("reserved", "sold"):
        new["reserved"] -= quantity
        new["onHand"] -= quantity
    return new


def record_applied(stock: Row, topic: str, offset: int) -> Row:
    """Mark a stock.requests message applied to the row."""
    new = stock.copy()
    new["appliedOffsets"] = {**stock["appliedOffsets"], topic: offset}
    return new


# --- what each line's change tells the world (inventory.events) ------------------------

def line_event(kind: str, cmd: LineCommand, result: m.LineResult, previous: str | None, at_iso: str
               ) -> Event | None:
    """InventoryReserved for a line a ReserveLine reserved, InventoryReleased for units a ReleaseLine gave
    back (``previous``: reserved or sold); None otherwise. The eventId names the order line, so the answer
    a replay re-sends carries the same one."""
    if kind == "ReserveLine" and result["outcome"] == "reserved":
        event, data = "InventoryReserved", {"lineCount": cmd.get("lineCount") or 0}
    elif kind == "ReleaseLine" and result["outcome"] == "released" and result["quantity"] > 0 and previous:
        event, data = "InventoryReleased", {"releasedFrom": previous}
    else:
        return None
    price = result["unitPriceCents"]
    return envelope(event, f"evt_inv_{cmd['orderId']}_{cmd['line']}_{result['outcome']}", at_iso, {
        "orderId": cmd["orderId"], "productId": cmd["productId"], "line": cmd["line"],
        "quantity": result["quantity"], "unitPriceCents": price, "unitPrice": amount(price), **data})
