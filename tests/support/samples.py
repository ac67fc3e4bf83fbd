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
           "currency": "EUR", "amount": 39.98, "transactionId": "txn_1", "version": 0}
SHIPMENT = {"orderId": "ord_1", "shipmentId": "shp_1", "carrier": "UPS", "trackingNumber": "1Z999"}
SUMMARY = {"orderId": "ord_1", "customerId": "cust_1", "status": "confirmed", "totalCents": 3998,
           "currency": "EUR", "createdAt": T, "updatedAt": T + 5, "revision": 4}

RESERVATION = {"state": "sold", "quantity": 2, "unitPriceCents": 1999, "reason": None,
               "previousState": "reserved",
               "history": [{"offset": 12, "previousState": None, "state": "reserved"},
                           {"offset": 41, "previousState": "reserved", "state": "sold"}]}
LEVEL = {"productId": "sku-1", "onHand": 40, "reserved": 37, "available": 3, "threshold": 5}
UPDATE = {"customerId": "cust_1", "email": "ada@new.example.com", "firstName": None, "lastName": None,
          "phone": "555-0199", "address": None, "requestedAt": T}

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
                   "unitPriceCents": 1999, "status": "reserved", "reason": None, "addedBy": None,
                   "removedBy": None}],
        "totalCents": 3998, "customerCheck": "passed", "currency": "EUR", "paymentMethodId": "pm_visa",
        "shippingAddress": ADDRESS, "paymentStatus": "captured", "paymentId": "pay_1", "paymentError": None,
        "shippingStatus": "none", "cancelRequested": None, "contradictions": [],
        "history": [{"status": "pending", "at": T, "reason": None, "cause": "orders.commands/3/17"},
                    {"status": "confirmed", "at": T + 5, "reason": "payment_successful",
                     "cause": "payments.events/3/9"}],
        "createdAt": T, "updatedAt": T + 5, "revision": 4,
        "appliedOffsets": {"orders.commands": 17, "payments.events": 9},
        "paymentVersion": 1,
        "change": {"changeId": "chg_1", "status": "applied", "reason": None, "at": T + 3,
                   "previousTotalCents": 1999, "requestedAt": T + 2},
    },
    f"{NS}.CancelOrder": {"orderId": "ord_1", "reason": "changed_mind", "requestedAt": T},
    f"{NS}.ChangeOrder": {"orderId": "ord_1", "changeId": "chg_1", "requestedAt": T,
                          "items": [{"productId": "sku-1", "quantity": 3, "priceCents": None}]},
    f"{NS}.ExpireOrder": {"orderId": "ord_1", "deadline": T + 300_000},
    f"{NS}.ReserveLine": {"orderId": "ord_1", "line": 0, "productId": "sku-1", "quantity": 2,
                          "requestedPriceCents": 1999, "lineCount": 2},
    f"{NS}.ReleaseLine": {"orderId": "ord_1", "line": 0, "productId": "sku-1"},
    f"{NS}.SellLine": {"orderId": "ord_1", "line": 0, "productId": "sku-1"},
    f"{NS}.LineResult": {"orderId": "ord_1", "line": 0, "productId": "sku-1", "quantity": 2,
                         "outcome": "rejected", "unitPriceCents": 1999, "reason": "out_of_stock"},
    f"{NS}.Restocked": {"adjustmentId": "adj_1", "productId": "sku-1", "quantity": 40, "at": T},
    f"{NS}.Adjusted": {"adjustmentId": "adj_2", "productId": "sku-1", "delta": -3, "reason": "damaged", "at": T},
    f"{NS}.StockSet": {"adjustmentId": "adj_3", "productId": "sku-1", "onHand": 37, "at": T},
    f"{NS}.PriceUpdated": {"productId": "sku-1", "priceCents": 2199, "currency": "EUR", "effectiveAt": T,
                           "price": 21.99},
    f"{NS}.RequestPayment": {"orderId": "ord_1", "customerId": "cust_1", "amountCents": 3998,
                             "currency": "EUR", "paymentMethodId": "pm_visa", "requestedAt": T, "version": 0},
    f"{NS}.RefundPayment": {"orderId": "ord_1", "amountCents": 3998, "currency": "EUR",
                            "reason": "order_cancelled", "requestedAt": T},
    f"{NS}.PaymentAuthorized": envelope("PaymentAuthorized", {**PAYMENT, "status": "authorized"}),
    f"{NS}.PaymentCompleted": envelope("PaymentCompleted", {**PAYMENT, "status": "captured"}),
    f"{NS}.PaymentFailed": envelope("PaymentFailed", {**PAYMENT, "errorCode": "insufficient_funds",
                                                      "errorMessage": "Card declined - insufficient funds"}),
    f"{NS}.PaymentRefunded": envelope("PaymentRefunded", {
        "refundId": "ref_1", "paymentId": "pay_1", "orderId": "ord_1", "amountCents": 3998, "currency": "EUR",
        "reason": "order_cancelled", "amount": 39.98, "transactionId": "txn_1", "refundRequestId": None,
        "partial": False, "refundedCents": 3998, "version": 0}),
    f"{NS}.Shipped": envelope("Shipped", {**SHIPMENT, "estimatedDelivery": "2026-12-08"}),
    f"{NS}.ShipmentCancelled": envelope("ShipmentCancelled", {
        "orderId": "ord_1", "shipmentId": "shp_ord_1", "carrier": "SimPost", "reason": "customer_request"}),
    f"{NS}.ShipOrder": {"orderId": "ord_1", "customerId": "cust_1", "shippingAddress": ADDRESS, "confirmedAt": T},
    f"{NS}.CancelShipment": {"orderId": "ord_1", "reason": "customer_request", "requestedAt": T},
    f"{NS}.CarrierProgress": {"orderId": "ord_1", "shipmentId": "shp_ord_1", "status": "picked_up", "at": T},
    f"{NS}.IssueRefund": {"orderId": "ord_1", "refundRequestId": "rfd_1", "amountCents": 1000,
                          "reason": "damaged in transit", "requestedBy": "ops", "requestedAt": T},
    f"{NS}.CorrectShipment": {"orderId": "ord_1", "status": "shipped", "carrier": "SimPost",
                              "trackingNumber": None, "requestedAt": T},
    f"{NS}.ShipmentState": {
        "orderId": "ord_1", "shipmentId": "shp_ord_1", "status": "picked_up", "carrier": "SimPost",
        "carrierShipmentId": "sim_1", "trackingNumber": "SP0001", "estimatedDelivery": "2026-12-08",
        "cancelReason": None,
        "history": [{"status": "processing", "at": T, "source": "orderflow"},
                    {"status": "picked_up", "at": T + 9, "source": "carrier"}],
        "createdAt": T, "updatedAt": T + 9, "appliedOffsets": {"shipments.requests": 3}},
    f"{NS}.Delivered": envelope("Delivered", SHIPMENT),
    f"{NS}.OrderCreated": envelope("OrderCreated", {
        "orderId": "ord_1", "customerId": "cust_1",
        "items": [{"productId": "sku-1", "quantity": 2, "priceCents": 1999, "price": 19.99}],
        "totalCents": None, "currency": "EUR", "status": "pending", "totalAmount": None}),
    f"{NS}.OrderStatusChanged": envelope("OrderStatusChanged", {
        "orderId": "ord_1", "previousStatus": "pending_payment", "newStatus": "confirmed",
        "reason": "payment_successful"}),
    f"{NS}.OrderCancelled": envelope("OrderCancelled", {
        "orderId": "ord_1", "customerId": "cust_1", "reason": "customer_request", "refundAmountCents": 3998,
        "refundAmount": 39.98}),
    f"{NS}.OrderSummary": SUMMARY,
    f"{NS}.CustomerOrders": {"customerId": "cust_1", "orders": [SUMMARY]},
    f"{NS}.StockLevel": {"productId": "sku-1", "onHand": 37, "reserved": 2,
                         "appliedOffsets": {"inventory.adjustments": 4},
                         "recentAdjustments": ["adj_1", "adj_2"], "lowStockThreshold": 8},
    f"{NS}.Reservation": RESERVATION,
    f"{NS}.ProductPrice": {"productId": "sku-1", "priceCents": 2199, "currency": "EUR", "effectiveAt": T},
    f"{NS}.ApiKey": {"keyId": "0123456789ab", "name": "partner shop", "secretSha256": "ab" * 32,
                     "scopes": ["service"], "perHour": 500, "burst": 20, "createdAt": T, "revokedAt": None},
    f"{NS}.PaymentState": {"orderId": "ord_1", "status": "captured", "paymentId": "pay_ord_1",
                           "transactionId": "txn_1", "amountCents": 3998,
                           "currency": "EUR", "customerId": "cust_1", "refundId": None, "errorCode": None,
                           "errorMessage": None, "createdAt": T,
                           "history": [{"status": "authorized", "at": T, "reason": None},
                                       {"status": "captured", "at": T + 1, "reason": None}],
                           "refundedCents": 0, "refunds": [], "version": 0},
    f"{NS}.PendingPayment": {"orderId": "ord_1", "deadline": T + 300_000},
    f"{NS}.LowStock": envelope("LowStock", LEVEL),
    f"{NS}.InventoryReserved": envelope("InventoryReserved", {
        "orderId": "ord_1", "productId": "sku-1", "line": 0, "lineCount": 2, "quantity": 2, "unitPriceCents": 1999,
        "unitPrice": 19.99}),
    f"{NS}.InventoryReleased": envelope("InventoryReleased", {
        "orderId": "ord_1", "productId": "sku-1", "line": 0, "quantity": 2, "unitPriceCents": 1999,
        "unitPrice": 19.99, "releasedFrom": "sold"}),
    f"{NS}.OutOfStock": envelope("OutOfStock", {**LEVEL, "reserved": 37, "available": 0}),
    f"{NS}.BackInStock": envelope("BackInStock", LEVEL),
    f"{NS}.StockShortage": envelope("StockShortage", {**LEVEL, "onHand": 2, "reserved": 6, "available": -4}),
    f"{NS}.LowStockThresholdSet": {"adjustmentId": "adj_4", "productId": "sku-1", "threshold": 8, "at": T},
    f"{NS}.CreateCustomer": {"customerId": "cust_1", "email": "ada@example.com", "firstName": "Ada",
                             "lastName": "Lovelace", "phone": "555-0100", "address": ADDRESS, "requestedAt": T},
    f"{NS}.UpdateCustomer": UPDATE,
    f"{NS}.ClaimEmail": {"email": "ada@example.com", "customerId": "cust_1"},
    f"{NS}.ReleaseEmail": {"email": "ada@example.com", "customerId": "cust_1"},
    f"{NS}.EmailClaimResult": {"customerId": "cust_1", "email": "ada@example.com", "granted": False,
                               "reason": "email_taken"},
    f"{NS}.CustomerCreated": envelope("CustomerCreated", {"customerId": "cust_1", "email": "ada@example.com",
                                                          "firstName": "Ada", "lastName": "Lovelace"}),
    f"{NS}.CustomerUpdated": envelope("CustomerUpdated", {"customerId": "cust_1", "updatedFields": ["phone"]}),
    f"{NS}.CustomerState": {"customerId": "cust_1", "status": "active", "email": "ada@example.com",
                            "firstName": "Ada", "lastName": "Lovelace", "phone": "555-0100", "address": ADDRESS,
                            "rejectReason": None, "pendingUpdate": UPDATE, "lastUpdateError": None, "revision": 3,
                            "createdAt": T, "updatedAt": T + 5, "appliedOffsets": {"customers.commands": 2}},
    f"{NS}.EmailOwner": {"email": "ada@example.com", "customerId": "cust_1"},
    f"{NS}.CheckCustomer": {"orderId": "ord_1", "customerId": "cust_1", "amountCents": 3998, "at": T},
    f"{NS}.CustomerCheckResult": {"orderId": "ord_1", "customerId": "cust_1", "passed": False,
                                  "reason": "velocity_limit"},
    f"{NS}.CustomerCheck": {"passed": True, "reason": None},
    f"{NS}.VelocityWindow": {"orders": 3, "amountCents": 12000},
    f"{NS}.Notification": {"notificationId": "ntf_ord_1_confirmed", "customerId": "cust_1", "channel": "email",
                           "recipient": "ada@example.com", "template": "order_confirmed",
                           "fields": {"orderId": "ord_1", "totalAmount": "39.98"}, "createdAt": T},
    f"{NS}.NotificationSent": {"notificationId": "ntf_ord_1_confirmed"},
    f"{NS}.NotificationDelivered": {"notificationId": "ntf_ord_1_confirmed", "recipient": "ada@example.com",
                                    "messageId": "<ntf_ord_1_confirmed@orderflow.example>", "sentAt": 1},
}
