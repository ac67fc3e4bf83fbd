"""One realistic record per schema, complete (every field set, defaults
included), so an encode-decode round trip returns it unchanged."""

from __future__ import annotations

from typing import Any

__all__ = ["ADDRESS", "SAMPLES"]

NS = "orderflow.v1"
ADDRESS = {"street": "1 Main St", "city": "Springfield", "state": "IL", "zipCode": "62701", "country": "US"}
T = 1_795_000_000_000


def envelope(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"eventId": f"evt_{kind.lower()}_1", "eventType": kind, "timestamp": "2026-11-22T10:00:00.000Z",
            "version": "1.0", "data": data}


PAYMENT = {"paymentId": "pay_1", "orderId": "ord_1", "customerId": "cust_1", "amountCents": 3998,
           "currency": "EUR"}
SHIPMENT = {"orderId": "ord_1", "shipmentId": "shp_1", "carrier": "UPS", "trackingNumber": "1Z999"}
SUMMARY = {"orderId": "ord_1", "customerId": "cust_1", "status": "confirmed", "totalCents": 3998,
           "currency": "EUR", "createdAt": T, "updatedAt": T + 5, "revision": 4}

SAMPLES: dict[str, dict[str, Any]] = {
    f"{NS}.Address": ADDRESS,
    f"{NS}.PlaceOrder": {
        "orderId": "ord_1", "customerId": "cust_1",
        "items": [{"productId": "sku-1", "quantity": 2, "priceCents": 1999},
                  {"productId": "sku-2", "quantity": 1, "priceCents": None}],
        "shippingAddress": ADDRESS, "paymentMethodId": "pm_visa", "currency": "EUR",
        "placedAt": T, "idempotencyKey": "idem-1",
    },
    f"{NS}.OrderState": {
        "orderId": "ord_1", "customerId": "cust_1", "status": "confirmed",
        "items": [{"productId": "sku-1", "quantity": 2, "requestedPriceCents": 1999,
                   "unitPriceCents": 1999, "status": "reserved", "reason": None}],
        "totalCents": 3998, "currency": "EUR", "paymentMethodId": "pm_visa",
        "shippingAddress": ADDRESS, "paymentStatus": "captured", "paymentId": "pay_1", "paymentError": None,
        "shippingStatus": "none",
        "history": [{"status": "pending", "at": T, "reason": None, "cause": "orders.commands/3/17"},
                    {"status": "confirmed", "at": T + 5, "reason": "payment_successful",
                     "cause": "payments.events/3/9"}],
        "createdAt": T, "updatedAt": T + 5, "revision": 4,
        "appliedOffsets": {"orders.commands": 17, "payments.events": 9},
    },
    f"{NS}.CancelOrder": {"orderId": "ord_1", "reason": "changed_mind", "requestedAt": T},
    f"{NS}.ExpireOrder": {"orderId": "ord_1", "deadline": T + 300_000},
    f"{NS}.ReserveLine": {"orderId": "ord_1", "line": 0, "productId": "sku-1", "quantity": 2,
                          "requestedPriceCents": 1999},
    f"{NS}.ReleaseLine": {"orderId": "ord_1", "line": 0, "productId": "sku-1"},
    f"{NS}.SellLine": {"orderId": "ord_1", "line": 0, "productId": "sku-1"},
    f"{NS}.LineResult": {"orderId": "ord_1", "line": 0, "productId": "sku-1", "quantity": 2,
                         "outcome": "rejected", "unitPriceCents": 1999, "reason": "out_of_stock"},
    f"{NS}.Restocked": {"adjustmentId": "adj_1", "productId": "sku-1", "quantity": 40, "at": T},
    f"{NS}.Adjusted": {"adjustmentId": "adj_2", "productId": "sku-1", "delta": -3, "reason": "damaged", "at": T},
    f"{NS}.StockSet": {"adjustmentId": "adj_3", "productId": "sku-1", "onHand": 37, "at": T},
    f"{NS}.PriceUpdated": {"productId": "sku-1", "priceCents": 2199, "currency": "EUR", "effectiveAt": T},
    f"{NS}.RequestPayment": {"orderId": "ord_1", "customerId": "cust_1", "amountCents": 3998,
                             "currency": "EUR", "paymentMethodId": "pm_visa", "requestedAt": T},
    f"{NS}.RefundPayment": {"orderId": "ord_1", "amountCents": 3998, "currency": "EUR",
                            "reason": "order_cancelled", "requestedAt": T},
    f"{NS}.PaymentAuthorized": envelope("PaymentAuthorized", {**PAYMENT, "status": "authorized"}),
    f"{NS}.PaymentCompleted": envelope("PaymentCompleted", {**PAYMENT, "status": "captured"}),
    f"{NS}.PaymentFailed": envelope("PaymentFailed", {**PAYMENT, "errorCode": "insufficient_funds",
                                                      "errorMessage": "Card declined - insufficient funds"}),
    f"{NS}.PaymentRefunded": envelope("PaymentRefunded", {
        "refundId": "ref_1", "paymentId": "pay_1", "orderId": "ord_1", "amountCents": 3998, "currency": "EUR",
        "reason": "order_cancelled"}),
    f"{NS}.Shipped": envelope("Shipped", SHIPMENT),
    f"{NS}.Delivered": envelope("Delivered", SHIPMENT),
    f"{NS}.OrderCreated": envelope("OrderCreated", {
        "orderId": "ord_1", "customerId": "cust_1",
        "items": [{"productId": "sku-1", "quantity": 2, "priceCents": 1999}],
        "totalCents": None, "currency": "EUR", "status": "pending"}),
    f"{NS}.OrderStatusChanged": envelope("OrderStatusChanged", {
        "orderId": "ord_1", "previousStatus": "pending_payment", "newStatus": "confirmed",
        "reason": "payment_successful"}),
    f"{NS}.OrderCancelled": envelope("OrderCancelled", {
        "orderId": "ord_1", "customerId": "cust_1", "reason": "customer_request", "refundAmountCents": 3998}),
    f"{NS}.OrderSummary": SUMMARY,
    f"{NS}.CustomerOrders": {"customerId": "cust_1", "orders": [SUMMARY]},
    f"{NS}.StockLevel": {"productId": "sku-1", "onHand": 37, "reserved": 2, "priceCents": 2199,
                         "priceEffectiveAt": T, "currency": "EUR", "appliedOffsets": {"prices": 4},
                         "recentAdjustments": ["adj_1", "adj_2"]},
    f"{NS}.Reservation": {"state": "reserved", "quantity": 2, "unitPriceCents": 1999, "reason": None},
    f"{NS}.PaymentState": {"orderId": "ord_1", "status": "captured", "paymentId": "pay_1", "amountCents": 3998,
                           "currency": "EUR", "customerId": "cust_1", "refundId": None, "errorCode": None,
                           "errorMessage": None},
    f"{NS}.PendingPayment": {"orderId": "ord_1", "deadline": T + 300_000},
}
