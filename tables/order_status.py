"""The legal status transitions of an order, of its lines and of its payment,
as explicit tables. Pure data; every change the saga makes is checked here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = [
    "CANCELLABLE",
    "CANCELLED",
    "CONFIRMED",
    "DELIVERED",
    "PAID",
    "PAYMENT_FAILED",
    "PENDING",
    "PENDING_PAYMENT",
    "REJECTED",
    "SHIPPED",
    "UNDONE",
    "CUSTOMER_FACING",
    "IN_PROGRESS",
    "LINE_TRANSITIONS",
    "ORDER_TRANSITIONS",
    "OUTCOMES",
    "PAYMENT_TRANSITIONS",
    "REFUNDABLE_PAYMENT",
    "LEFT_WAREHOUSE",
    "SHIPMENT_CANCELLED",
    "SHIPMENT_PROGRESS",
    "SHIPMENT_TRANSITIONS",
    "SHIPPING_STATUS",
    "TERMINAL",
    "can_cancel",
    "is_legal",
]

PENDING: Final = "pending"
PENDING_PAYMENT: Final = "pending_payment"
CONFIRMED: Final = "confirmed"
SHIPPED: Final = "shipped"
DELIVERED: Final = "delivered"
REJECTED: Final = "rejected"
PAYMENT_FAILED: Final = "payment_failed"
CANCELLED: Final = "cancelled"

ORDER_TRANSITIONS: Mapping[str, frozenset[str]] = {
    PENDING: frozenset({PENDING_PAYMENT, REJECTED, CANCELLED}),
    PENDING_PAYMENT: frozenset({CONFIRMED, PAYMENT_FAILED, CANCELLED}),
    CONFIRMED: frozenset({SHIPPED, CANCELLED}),
    SHIPPED: frozenset({DELIVERED}),
    DELIVERED: frozenset(),
    REJECTED: frozenset(),
    PAYMENT_FAILED: frozenset(),
    CANCELLED: frozenset(),
}
TERMINAL = frozenset(s for s, nexts in ORDER_TRANSITIONS.items() if not nexts)
# Statuses whose stock is given back, and whose captured payment is refunded.
UNDONE = frozenset({REJECTED, PAYMENT_FAILED, CANCELLED})
# Statuses whose reserved stock is sold.
PAID = frozenset({CONFIRMED, SHIPPED, DELIVERED})
CANCELLABLE = frozenset(s for s, nexts in ORDER_TRANSITIONS.items() if CANCELLED in nexts)
CUSTOMER_FACING = frozenset({CONFIRMED, REJECTED, PAYMENT_FAILED, SHIPPED, DELIVERED, CANCELLED})
# Statuses before an order's outcome is known (a long-poll waits while in them),
# and the first outcome each order reaches: confirmed, or undone.
IN_PROGRESS = frozenset({PENDING, PENDING_PAYMENT})
OUTCOMES = frozenset({CONFIRMED}) | UNDONE

LINE_TRANSITIONS: Mapping[str, frozenset[str]] = {
    "pending": frozenset({"reserved", "rejected"}),
    "reserved": frozenset({"released", "sold"}),
    "rejected": frozenset(),
    "released": frozenset(),
    # a confirmed order cancelled before shipment gives its sold units back
    "sold": frozenset({"released"}),
}

# paymentStatus values whose captured money is (partly) still with the merchant.
REFUNDABLE_PAYMENT = frozenset({"captured", "partially_refunded"})
PAYMENT_TRANSITIONS: Mapping[str, frozenset[str]] = {
    "none": frozenset({"pending"}),
    "pending": frozenset({"authorized", "captured", "failed"}),
    "authorized": frozenset({"captured", "failed"}),
    # an operator may refund a captured payment in parts
    "captured": frozenset({"partially_refunded", "refunded"}),
    "partially_refunded": frozenset({"refunded"}),
    "failed": frozenset(),
    "refunded": frozenset(),
}


# A shipment at the carrier (table shipments): each status may be reported
# late or skipped (a feed read after two moves), never undone; a parcel can be
# stopped only before it is picked up.
SHIPMENT_PROGRESS: tuple[str, ...] = ("processing", "label_created", "picked_up", "in_transit", "delivered")
SHIPMENT_CANCELLED: Final = "cancelled"
SHIPMENT_TRANSITIONS: Mapping[str, frozenset[str]] = {
    **{s: frozenset(SHIPMENT_PROGRESS[i + 1:]) for i, s in enumerate(SHIPMENT_PROGRESS)},
    "processing": frozenset(SHIPMENT_PROGRESS[1:]) | {SHIPMENT_CANCELLED},
    "label_created": frozenset(SHIPMENT_PROGRESS[2:]) | {SHIPMENT_CANCELLED},
    SHIPMENT_CANCELLED: frozenset(),
}
# What GET /orders/{id} shows as shippingStatus for each shipment status.
SHIPPING_STATUS: Mapping[str, str] = {
    "processing": "processing", "label_created": "processing", "picked_up": "shipped",
    "in_transit": "in_transit", "delivered": "delivered", SHIPMENT_CANCELLED: "cancelled",
}
# How far along each shippingStatus is: the order's own (moved by any delivery
# service's Shipped and Delivered) and its shipment's may differ for a moment,
# and the order read shows the further one.
SHIPPING_PROGRESS: tuple[str, ...] = ("none", "processing", "shipped", "in_transit", "delivered")


def further_shipping(order_status: str, shipment_status: str) -> str:
    """The shippingStatus to show: a cancellation is final on either side."""
    if "cancelled" in (order_status, shipment_status):
        return "cancelled"
    return max(order_status, shipment_status, key=SHIPPING_PROGRESS.index)


# The shipment statuses whose goods have left: Shipped has been published.
LEFT_WAREHOUSE = frozenset({"picked_up", "in_transit", "delivered"})


def is_legal(table: Mapping[str, frozenset[str]], current: str, target: str) -> bool:
    return target in table.get(current, frozenset())


def can_cancel(status: str) -> bool:
    """Whether a CancelOrder cancels an order in ``status``: until it ships or
    ends (the saga's cancel decision moves only along ``ORDER_TRANSITIONS``,
    so it agrees; the gateway asks this before it writes a cancellation)."""
    return status in CANCELLABLE
