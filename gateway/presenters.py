"""How the API shows state rows: decimal amounts instead of cents, ISO-8601
times instead of epoch millis, and only what a client needs.

One concept, one name inside: Python code uses the Avro and table names
(``priceCents``, ``history``, ``address``). The HTTP names below are the
seed API's and stay as they are (renaming them would change the API); this is
where one becomes the other.

==========================================  ==========================================
HTTP (gateway, JSON)                        Avro / table (Kafka, worker)
==========================================  ==========================================
POST /orders ``items[].price`` (decimal)    PlaceOrder ``items[].priceCents``, the
                                            client's price; OrderCreated
                                            ``items[].priceCents`` repeats it
GET /orders ``items[].requestedPrice``      OrderState ``items[].requestedPriceCents``
                                            (= that priceCents; ReserveLine
                                            ``requestedPriceCents``)
GET /orders ``items[].unitPrice``           ``unitPriceCents`` (LineResult,
                                            Reservation, OrderState line)
GET /orders, /customers/{id}/orders         OrderState / OrderSummary ``totalCents``
``totalAmount``                             (Notification ``fields.totalAmount`` is
                                            the same, as a "12.50" string)
GET /orders ``statusHistory[]`` {status,    OrderState ``history[]`` {status, at
at (ISO), reason}                           (epoch ms), reason, cause}
``createdAt``, ``updatedAt`` (ISO)          the same names, epoch ms
POST /products/{id}/price ``price``         PriceUpdated, ProductPrice (table
                                            ``prices``) ``priceCents``
GET /inventory/{id} ``price``               worker /inventory ``priceCents`` (null
                                            until a price is set)
GET /products/{id} ``price``                the same, or ``default_price_cents``
                                            until a price is set
                                            (``tables.prices.unit_price_cents``)
POST, PUT /customers ``address`` (one)      CreateCustomer, UpdateCustomer,
                                            CustomerState ``address``
GET /customers/{id} ``addresses`` (a list)  ``[address]``, or ``[]`` without one
GET /orders ``paymentMethodId`` (masked,    OrderState ``paymentMethodId`` (in full)
``pm_****1234``)
POST /payments/{id}/refund ``amount``       IssueRefund ``amountCents`` (null: all
(decimal, none: all that is left)           that is left); PaymentState ``refunds[]``
GET /payments ``refundedAmount``            PaymentState ``refundedCents``
SSE /orders/{id}/events ``id:``             the eventId of the history entry's
``evt_{orderId}_{n}``                       OrderCreated / OrderStatusChanged
==========================================  ==========================================

Topics: ``customer.events`` (CustomerCreated, CustomerUpdated; the seed's
name, other services read it) sits beside the ``customers.*`` topics the
customer agents use among themselves (commands, email-claims, email-results,
checks, check-results); topic names are wire names and stay.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from orderflow.schemas.messages import CustomerState, OrderState, OrderSummary, PaymentRefund
from orderflow.tables.clock import iso
from orderflow.tables.money import amount
from orderflow.tables.order_status import SHIPPING_STATUS, UNDONE, further_shipping
from orderflow.tables.payments import refunded_cents

__all__ = ["amount", "estimated_delivery", "iso", "masked_payment_method", "present_customer", "present_inventory",
           "ITEM_STATUS", "item_status", "present_order", "present_payment", "present_refund", "present_summary"]


def masked_payment_method(value: str | None) -> str | None:
    """``pm_****1234``: the id's prefix (up to its first ``_``) and its last four characters
    (none if the rest is that short), enough to recognise a card, not to use it."""
    if value is None:
        return None
    prefix, sep, rest = value.partition("_")
    if not sep:
        prefix, rest = "", value
    else:
        prefix += sep
    return f"{prefix}****{rest[-4:] if len(rest) > 4 else ''}"


def present_order(row: OrderState) -> dict[str, Any]:
    return {
        "orderId": row["orderId"],
        "customerId": row["customerId"],
        "status": row["status"],
        "items": [
            {"productId": i["productId"], "quantity": i["quantity"], "unitPrice": amount(i["unitPriceCents"]),
             "requestedPrice": amount(i["requestedPriceCents"]), "status": i["status"], "reason": i["reason"],
             "itemStatus": item_status(i), "addedBy": i.get("addedBy"), "removedBy": i.get("removedBy")}
            for i in row["items"]
        ],
        "change": _change(row.get("change")),
        "totalAmount": amount(row["totalCents"]),
        "currency": row["currency"],
        "paymentStatus": row["paymentStatus"],
        "paymentError": row["paymentError"],
        **_shipping(row),
        "cancelRequested": row.get("cancelRequested") is not None,
        "contradictions": [
            {"fact": c["fact"], "at": iso(c["at"]), "orderStatus": c["orderStatus"],
             "paymentStatus": c["paymentStatus"], "compensation": c["compensation"]}
            for c in row.get("contradictions", ())
        ],
        "shippingAddress": row["shippingAddress"],
        "paymentMethodId": masked_payment_method(row["paymentMethodId"]),
        "statusHistory": [
            {"status": h["status"], "at": iso(h["at"]), "reason": h["reason"]} for h in row["history"]
        ],
        "createdAt": iso(row["createdAt"]),
        "updatedAt": iso(row["updatedAt"]),
        "revision": row["revision"],
    }


def _shipping(row: OrderState) -> dict[str, Any]:
    """The shipment's view the worker joined to the order, or the order's own (no delivery service)."""
    shipment: Any = row.get("shipment")  # joined by the worker's read
    if shipment:  # another delivery service's Shipped may be ahead of this one's shipment
        return {**shipment, "shippingStatus": further_shipping(row["shippingStatus"], shipment["shippingStatus"])}
    return {"shippingStatus": row["shippingStatus"], "shipmentId": None, "carrier": None, "trackingNumber": None,
            "estimatedDelivery": None}


def present_shipment(row: dict[str, Any]) -> dict[str, Any]:
    """A shipment and its history, as the delivery service keeps it."""
    return {
        "shipmentId": row["shipmentId"], "orderId": row["orderId"], "status": row["status"],
        "shippingStatus": SHIPPING_STATUS[row["status"]], "carrier": row["carrier"],
        "carrierShipmentId": row["carrierShipmentId"], "trackingNumber": row["trackingNumber"],
        "estimatedDelivery": row["estimatedDelivery"], "cancelReason": row["cancelReason"],
        "history": [{"status": h["status"], "at": iso(h["at"]), "source": h["source"]} for h in row["history"]],
        "createdAt": iso(row["createdAt"]), "updatedAt": iso(row["updatedAt"]),
    }


def estimated_delivery(row: OrderState, days: int) -> str | None:
    """The date (ISO, UTC) an order on its way to the customer is promised for:
    ``days`` after its placement (the shop's promise, until a carrier gives
    its own estimate); None for one that ended undelivered."""
    if row["status"] in UNDONE:
        return None
    return (datetime.fromtimestamp(row["createdAt"] / 1000, UTC) + timedelta(days=days)).date().isoformat()


def present_payment(row: dict[str, Any]) -> dict[str, Any]:
    """A payment as seed 003's Payments API shows it; the method only as its type and last 4."""
    status, total = row["status"], row["amountCents"]
    method = row.get("paymentMethodId")
    return {
        "paymentId": row["paymentId"], "transactionId": row.get("transactionId"), "orderId": row["orderId"],
        "status": status,
        "amount": amount(total), "currency": row["currency"],
        "capturedAmount": amount(total if status in ("captured", "partially_refunded", "refunded") else 0),
        "refundedAmount": amount(refunded_cents(row)),  # type: ignore[arg-type]  # a PaymentState as JSON
        "refundId": row["refundId"],
        "refunds": [present_refund(r) for r in row.get("refunds") or ()],
        "paymentMethod": {"type": "card", "last4": method[-4:]} if method else None,
        "error": {"code": row["errorCode"], "message": row["errorMessage"]} if row["errorCode"] else None,
        "createdAt": iso(row["createdAt"]) if row["createdAt"] else None,
        "history": [{"status": h["status"], "at": iso(h["at"]), "reason": h["reason"]} for h in row["history"]],
    }


# Seed 002's item status beside orderflow's line status: one mapping. A line a change took out
# is CANCELED whatever its units are doing (they go back once the order is paid).
ITEM_STATUS = {"pending": "PENDING", "reserved": "EXECUTED", "sold": "EXECUTED", "rejected": "CANCELED",
               "released": "CANCELED"}


def item_status(line: Any) -> str:
    return "CANCELED" if line.get("removedBy") else ITEM_STATUS[line["status"]]


def _change(change: Any) -> dict[str, Any] | None:
    if change is None:
        return None
    return {"changeId": change["changeId"], "status": change["status"], "reason": change["reason"],
            "at": iso(change["at"]), "previousTotalAmount": amount(change["previousTotalCents"])}


def present_refund(refund: PaymentRefund) -> dict[str, Any]:
    """One of an operator's refunds: refunded, or refused and why."""
    return {"refundRequestId": refund["refundRequestId"], "status": refund["status"],
            "amount": amount(refund["amountCents"]) if refund["amountCents"] else None,
            "reason": refund.get("reason") or "", "refundId": refund.get("refundId"),
            "error": refund.get("error"), "requestedBy": refund.get("requestedBy") or "", "at": iso(refund["at"])}


def present_summary(summary: OrderSummary) -> dict[str, Any]:
    return {"orderId": summary["orderId"], "status": summary["status"],
            "totalAmount": amount(summary["totalCents"]), "currency": summary["currency"],
            "createdAt": iso(summary["createdAt"]), "updatedAt": iso(summary["updatedAt"])}


def present_inventory(row: dict[str, Any]) -> dict[str, Any]:
    return {"productId": row["productId"], "onHand": row["onHand"], "reserved": row["reserved"],
            "available": row["available"], "price": amount(row["priceCents"]), "currency": row["currency"]}


def present_customer(row: CustomerState) -> dict[str, Any]:
    return {"customerId": row["customerId"], "email": row["email"], "firstName": row["firstName"],
            "lastName": row["lastName"], "phone": row["phone"],
            "addresses": [] if row["address"] is None else [row["address"]]}
