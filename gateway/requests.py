"""Request bodies of the HTTP API, as pydantic models (kept apart from the
Avro records they become), and their conversion into commands.

Owns: what a well-formed request is, and the error body that names each bad
field. Money arrives as a decimal number with at most 2 places and leaves as
integer cents.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictInt,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from orderflow.tables.validation import IDENT_PATTERN, MAX_LINES, MAX_QUANTITY

__all__ = [
    "PLACE_WAIT_MAX_S",
    "preferred_wait",
    "DOT_SEGMENTS",
    "CancelOrderRequest",
    "ChangeOrderRequest",
    "CustomerRequest",
    "CustomerUpdateRequest",
    "InventoryAdjustmentRequest",
    "PlaceOrderRequest",
    "PriceRequest",
    "RefundRequest",
    "ShipmentRequest",
    "ValidationError",
    "field_errors",
    "path_id_problem",
    "to_adjustment",
    "to_change_order",
    "to_create_customer",
    "to_issue_refund",
    "to_place_order",
    "to_shipment_correction",
    "to_update_customer",
]

Ident = Annotated[str, Field(min_length=1, max_length=64, pattern=IDENT_PATTERN)]
Text = Annotated[str, Field(max_length=200)]
MAX_LONG = 2**63 - 1
# A path segment "." or ".." is removed by HTTP clients and proxies (RFC 3986,
# 5.2.4), so such an id cannot be addressed in a URL.
DOT_SEGMENTS = (".", "..")
_PATH_ID = TypeAdapter(Ident)


def path_id_problem(value: str) -> str | None:
    """Why ``value`` cannot be an id in a URL path, or None when it can."""
    if value in DOT_SEGMENTS:
        return f"{value!r} is a dot segment, not an id"
    try:
        _PATH_ID.validate_python(value)
    except ValidationError as exc:
        return str(exc.errors(include_url=False)[0]["msg"])
    return None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrderLineRequest(_Strict):
    productId: Ident
    quantity: Annotated[StrictInt, Field(ge=1, le=MAX_QUANTITY)]
    price: Annotated[Decimal, Field(ge=0, le=Decimal("1000000"), decimal_places=2)] | None = None


class AddressRequest(_Strict):
    street: Text = ""
    city: Text = ""
    state: Text = ""
    zipCode: Annotated[str, Field(max_length=20)] = ""
    country: Text = ""


class PlaceOrderRequest(_Strict):
    customerId: Ident
    items: Annotated[list[OrderLineRequest], Field(min_length=1, max_length=MAX_LINES)]
    shippingAddress: AddressRequest | None = None
    paymentMethodId: Ident
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"


class ChangeOrderRequest(_Strict):
    """The order's items as they are to be (seed 002's PUT /orders/{id})."""

    items: Annotated[list[OrderLineRequest], Field(min_length=1, max_length=MAX_LINES)]


def to_change_order(req: ChangeOrderRequest, order_id: str, change_id: str, now_ms: int) -> dict[str, Any]:
    """The ChangeOrder command (Avro shape) for a validated request."""
    return {"orderId": order_id, "changeId": change_id, "requestedAt": now_ms,
            "items": [{"productId": line.productId, "quantity": line.quantity,
                       "priceCents": None if line.price is None else to_cents(line.price)} for line in req.items]}


PLACE_WAIT_MAX_S = 10.0  # the longest `Prefer: wait` a POST /orders is held for


def preferred_wait(prefer: str | None, max_s: float = PLACE_WAIT_MAX_S) -> float:
    """Seconds a client asks to wait with ``Prefer: wait=N`` (RFC 7240), within
    [0, ``max_s``]; 0 when it asks nothing or something unreadable (a preference
    is a wish, never an error)."""
    for preference in (prefer or "").split(","):
        name, _, value = preference.strip().partition("=")
        if name.strip().lower() == "wait":
            try:
                seconds = float(value.strip().split(";", 1)[0].strip('"'))
            except ValueError:
                return 0.0
            return min(max(seconds, 0.0), max_s) if seconds == seconds else 0.0  # NaN waits nothing
    return 0.0


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """One entry per bad field: its dotted path and what is wrong with it."""
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "problem": err["msg"]}
        for err in exc.errors(include_url=False)
    ]


def to_cents(amount: Decimal) -> int:
    return int(amount * 100)


def to_place_order(req: PlaceOrderRequest, order_id: str, now_ms: int,
                   idempotency_key: str | None) -> dict[str, Any]:
    """The PlaceOrder command (Avro shape) for a validated request."""
    return {
        "orderId": order_id,
        "customerId": req.customerId,
        "items": [
            {"productId": line.productId, "quantity": line.quantity,
             "priceCents": None if line.price is None else to_cents(line.price)}
            for line in req.items
        ],
        "shippingAddress": None if req.shippingAddress is None else req.shippingAddress.model_dump(),
        "paymentMethodId": req.paymentMethodId,
        "currency": req.currency,
        "placedAt": now_ms,
        "idempotencyKey": idempotency_key,
    }


class CancelOrderRequest(_Strict):
    reason: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class InventoryAdjustmentRequest(_Strict):
    """restock adds ``quantity``; adjust adds a signed ``quantity`` (a correction,
    with a reason); set makes ``quantity`` the on-hand count after a stock take;
    threshold makes ``quantity`` the product's low-stock threshold."""

    type: Literal["restock", "adjust", "set", "threshold"]
    quantity: Annotated[StrictInt, Field(ge=-1_000_000_000, le=1_000_000_000)]
    reason: Annotated[str, Field(min_length=1, max_length=100)] = "unspecified"
    adjustmentId: Ident | None = None

    @model_validator(mode="after")
    def _sign_fits_type(self) -> InventoryAdjustmentRequest:
        if self.type != "adjust" and self.quantity < 0:
            raise ValueError(f"quantity of a {self.type} cannot be negative")
        return self


class PriceRequest(_Strict):
    price: Annotated[Decimal, Field(ge=0, le=Decimal("1000000"), decimal_places=2)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    effectiveAt: Annotated[StrictInt, Field(ge=0, le=MAX_LONG)] | None = None  # epoch ms, an Avro long


ADJUSTMENT_KINDS = {"restock": "Restocked", "adjust": "Adjusted", "set": "StockSet",
                    "threshold": "LowStockThresholdSet"}


def to_adjustment(req: InventoryAdjustmentRequest, product_id: str, adjustment_id: str,
                  now_ms: int) -> tuple[str, dict[str, Any]]:
    """The inventory message (schema short name, record) for an admin request."""
    kind = ADJUSTMENT_KINDS[req.type]
    record: dict[str, Any] = {"adjustmentId": adjustment_id, "productId": product_id, "at": now_ms}
    if kind == "Restocked":
        record["quantity"] = req.quantity
    elif kind == "Adjusted":
        record.update(delta=req.quantity, reason=req.reason)
    elif kind == "StockSet":
        record["onHand"] = req.quantity
    else:
        record["threshold"] = req.quantity
    return kind, record


class ShipmentRequest(_Strict):
    status: Literal["shipped", "delivered"]
    carrier: Text | None = None
    trackingNumber: Text | None = None


def to_shipment_correction(req: ShipmentRequest, order_id: str, now: int) -> dict[str, Any]:
    """The CorrectShipment record of an operator's request, for the delivery service to check and apply."""
    return {"orderId": order_id, "status": req.status, "carrier": req.carrier, "trackingNumber": req.trackingNumber,
            "requestedAt": now}


class RefundRequest(_Strict):
    amount: Annotated[Decimal, Field(gt=0, le=Decimal("1000000"), decimal_places=2)] | None = None
    reason: Annotated[str, Field(min_length=1, max_length=200)]


def to_issue_refund(req: RefundRequest, order_id: str, refund_request_id: str, operator: str,
                    now: int) -> dict[str, Any]:
    """The IssueRefund record of an operator's refund (no amount: all that is left)."""
    return {"orderId": order_id, "refundRequestId": refund_request_id,
            "amountCents": None if req.amount is None else to_cents(req.amount), "reason": req.reason,
            "requestedBy": operator, "requestedAt": now}


class CustomerRequest(_Strict):
    email: EmailStr
    firstName: Text = ""
    lastName: Text = ""
    phone: Annotated[str, Field(max_length=40)] = ""
    address: AddressRequest | None = None


class CustomerUpdateRequest(_Strict):
    email: EmailStr | None = None
    firstName: Text | None = None
    lastName: Text | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None
    address: AddressRequest | None = None

    @model_validator(mode="after")
    def _something(self) -> CustomerUpdateRequest:
        if not self.model_fields_set:
            raise ValueError("name at least one field to change")
        return self


def to_create_customer(req: CustomerRequest, customer_id: str, now_ms: int) -> dict[str, Any]:
    return {"customerId": customer_id, "email": str(req.email), "firstName": req.firstName,
            "lastName": req.lastName, "phone": req.phone,
            "address": None if req.address is None else req.address.model_dump(), "requestedAt": now_ms}


def to_update_customer(req: CustomerUpdateRequest, customer_id: str, now_ms: int) -> dict[str, Any]:
    return {"customerId": customer_id, "email": None if req.email is None else str(req.email),
            "firstName": req.firstName, "lastName": req.lastName, "phone": req.phone,
            "address": None if req.address is None else req.address.model_dump(), "requestedAt": now_ms}
