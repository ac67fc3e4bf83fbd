"""How the API shows state rows: decimal amounts instead of cents, ISO-8601
times instead of epoch millis, and only what a client needs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from orderflow.tables.clock import iso

__all__ = ["amount", "iso", "present_inventory", "present_order", "present_summary"]


def amount(cents: int | None) -> float | None:
    return None if cents is None else float(Decimal(cents) / 100)



def present_order(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "orderId": row["orderId"],
        "customerId": row["customerId"],
        "status": row["status"],
        "items": [
            {"productId": i["productId"], "quantity": i["quantity"], "unitPrice": amount(i["unitPriceCents"]),
             "requestedPrice": amount(i["requestedPriceCents"]), "status": i["status"], "reason": i["reason"]}
            for i in row["items"]
        ],
        "totalAmount": amount(row["totalCents"]),
        "currency": row["currency"],
        "paymentStatus": row["paymentStatus"],
        "paymentError": row["paymentError"],
        "shippingStatus": row["shippingStatus"],
        "shippingAddress": row["shippingAddress"],
        "paymentMethodId": row["paymentMethodId"],
        "statusHistory": [
            {"status": h["status"], "at": iso(h["at"]), "reason": h["reason"]} for h in row["history"]
        ],
        "createdAt": iso(row["createdAt"]),
        "updatedAt": iso(row["updatedAt"]),
        "revision": row["revision"],
    }


def present_summary(summary: dict[str, Any]) -> dict[str, Any]:
    return {"orderId": summary["orderId"], "status": summary["status"],
            "totalAmount": amount(summary["totalCents"]), "currency": summary["currency"],
            "createdAt": iso(summary["createdAt"]), "updatedAt": iso(summary["updatedAt"])}


def present_inventory(row: dict[str, Any]) -> dict[str, Any]:
    return {"productId": row["productId"], "onHand": row["onHand"], "reserved": row["reserved"],
            "available": row["available"], "price": amount(row["priceCents"]), "currency": row["currency"]}
