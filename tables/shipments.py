"""Pure shipment logic of the delivery service: a shipment row's moves and the
events each move publishes.

Consumes and returns the typed rows of ``schemas.messages`` (a
``ShipmentState``); imports nothing from Kafka, Faust or aiohttp. The agent
``deliver_orders`` creates a row when it books an order's shipment, moves it
with ``progressed`` on each status the carrier (or an operator) reports, and
sends ``new_events``; on a replayed message it sends ``events_of`` again.
Each event's id is derived from the shipment and the event's kind, so a
re-send is recognised downstream.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orderflow.schemas import messages as m
from orderflow.tables import order_status as st
from orderflow.tables.clock import iso
from orderflow.tables.envelope import Event, envelope

__all__ = ["Move", "booked", "cancelled", "corrected", "events_of", "new_events", "new_shipment", "order_id_of",
           "progressed", "shipment_id_of", "shipping_view"]

Row = m.ShipmentState
PREFIX = "shp_"
# What an operator's correction names, as the carrier's statuses.
CORRECTIONS: Mapping[str, str] = {"shipped": "picked_up", "delivered": "delivered"}


@dataclass(frozen=True)
class Move:
    """The new row (None: nothing changes) and, when refused, why."""

    row: Row | None = None
    refused: str | None = None


def shipment_id_of(order_id: str) -> str:
    """orderflow's id of an order's one shipment (also the carrier booking's idempotency key)."""
    return PREFIX + order_id


def order_id_of(shipment_id: str) -> str | None:
    return shipment_id[len(PREFIX):] or None if shipment_id.startswith(PREFIX) else None


def new_shipment(order_id: str, now_ms: int, source: str = "orderflow") -> Row:
    return {"orderId": order_id, "shipmentId": shipment_id_of(order_id), "status": "processing",
            "carrier": None, "carrierShipmentId": None, "trackingNumber": None, "estimatedDelivery": None,
            "cancelReason": None, "history": [{"status": "processing", "at": now_ms, "source": source}],
            "createdAt": now_ms, "updatedAt": now_ms, "appliedOffsets": {}}


def booked(row: Row, booking: Mapping[str, Any], now_ms: int) -> Row:
    """The row once the carrier took the booking (its answer: carrier, shipmentId, trackingNumber, ...)."""
    new = _copy(row, now_ms)
    new["carrier"] = booking.get("carrier")
    new["carrierShipmentId"] = booking.get("shipmentId")
    new["trackingNumber"] = booking.get("trackingNumber")
    new["estimatedDelivery"] = booking.get("estimatedDelivery")
    moved = progressed(new, str(booking.get("status") or "label_created"), now_ms, "carrier").row
    return moved or new


def progressed(row: Row, status: str, at_ms: int, source: str) -> Move:
    """``status`` reported for the shipment: the row moved there, unchanged if it is there or past it
    (reports arrive late and twice), refused if the move is impossible (a cancelled parcel moving)."""
    current = row["status"]
    if status == current or _behind(status, current):
        return Move()
    if not st.is_legal(st.SHIPMENT_TRANSITIONS, current, status):
        return Move(refused=f"shipment {row['shipmentId']}: {current} -> {status}")
    new = _copy(row, at_ms)
    new["status"] = status
    new["history"].append({"status": status, "at": at_ms, "source": source})
    return Move(new)


def corrected(row: Row, wanted: str, now_ms: int) -> Move:
    """An operator's correction (``shipped`` or ``delivered``), one step at a time: a parcel is
    marked delivered only once it left, so a slip of the hand cannot skip the shipment."""
    status = CORRECTIONS.get(wanted)
    if status is None:
        return Move(refused=f"a correction to {wanted!r}: only shipped or delivered")
    if status == "delivered" and row["status"] not in st.LEFT_WAREHOUSE:
        return Move(refused=f"shipment {row['shipmentId']} is {row['status']}: ship it before it is delivered")
    return progressed(row, status, now_ms, "operator")


def cancelled(row: Row, reason: str, now_ms: int) -> Move:
    """The shipment stopped before it left; refused once the goods have left."""
    moved = progressed(row, st.SHIPMENT_CANCELLED, now_ms, "orderflow")
    if moved.row is not None:
        moved.row["cancelReason"] = reason
    return moved


def events_of(row: Row) -> list[Event]:
    """Every event the row's state has published: Shipped once the goods left, Delivered once they
    arrived, ShipmentCancelled once stopped."""
    status, found = row["status"], []
    if status in st.LEFT_WAREHOUSE:
        found.append(_event(row, "Shipped", "picked_up"))
    if status == "delivered":
        found.append(_event(row, "Delivered", "delivered"))
    if status == st.SHIPMENT_CANCELLED:
        found.append(_event(row, "ShipmentCancelled", st.SHIPMENT_CANCELLED))
    return found


def new_events(old: Row | None, new: Row) -> list[Event]:
    before = {record["eventId"] for _, record in events_of(old)} if old is not None else set()
    return [event for event in events_of(new) if event[1]["eventId"] not in before]


def shipping_view(row: Row) -> dict[str, Any]:
    """What an order's read shows of its shipment."""
    return {"shippingStatus": st.SHIPPING_STATUS[row["status"]], "shipmentId": row["shipmentId"],
            "carrier": row["carrier"], "trackingNumber": row["trackingNumber"],
            "estimatedDelivery": row["estimatedDelivery"]}


def _event(row: Row, kind: str, status: str) -> Event:
    at = next((change["at"] for change in row["history"] if change["status"] == status), row["updatedAt"])
    data: dict[str, Any] = {"orderId": row["orderId"], "shipmentId": row["shipmentId"], "carrier": row["carrier"]}
    if kind == "ShipmentCancelled":
        data["reason"] = row["cancelReason"] or "cancelled"
    else:
        data["trackingNumber"] = row["trackingNumber"]
        if kind == "Shipped":
            data["estimatedDelivery"] = row["estimatedDelivery"]
    return envelope(kind, f"evt_{row['shipmentId']}_{kind}", iso(at), data)


def _behind(status: str, current: str) -> bool:
    order = st.SHIPMENT_PROGRESS
    return status in order and current in order and order.index(status) < order.index(current)


def _copy(row: Row, now_ms: int) -> Row:
    new: Row = {**row, "history": list(row["history"]), "appliedOffsets": dict(row["appliedOffsets"])}
    new["updatedAt"] = now_ms
    return new
