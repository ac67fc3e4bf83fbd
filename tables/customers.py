"""Pure customer logic: registering and changing customers with unique email
addresses, the customer and velocity checks of an order, and the
notifications an order's customer-facing transitions produce.

Rows and messages are the typed dicts of ``schemas.messages``
(``CustomerState``, ``EmailOwner``, ``VelocityWindow``, the customer
commands); no I/O. An email
address is unique because it is claimed in the partition of the address
itself (``claim``); a customer becomes active, or takes a new address, only
when its claim is granted.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from orderflow.schemas import messages as m
from orderflow.tables.envelope import Event, envelope
from orderflow.tables.order_status import CUSTOMER_FACING

__all__ = [
    "CustomerDecision",
    "Limits",
    "admit",
    "claim",
    "create",
    "normalise_email",
    "notification_for",
    "on_claim_result",
    "release",
    "update",
]

Row = m.CustomerState
Message = Event  # (schema short name, record)
PROFILE_FIELDS = ("firstName", "lastName", "phone", "address")


@dataclass(frozen=True)
class CustomerDecision:
    row: Row | None = None                # the new row; None: unchanged
    claims: list[Message] = field(default_factory=list)   # to customers.email-claims
    events: list[Message] = field(default_factory=list)   # to customer.events


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _event(kind: str, row: Row, at_iso: str, data: dict[str, Any]) -> Message:
    return envelope(kind, f"evt_{row['customerId']}_{row['revision']}", at_iso, data)


def _bump(row: Row, now_ms: int) -> Row:
    new = copy.deepcopy(row)
    new["revision"] = row["revision"] + 1
    new["updatedAt"] = now_ms
    return new


def create(row: Row | None, cmd: m.CreateCustomer, now_ms: int) -> CustomerDecision:
    if row is not None:
        return CustomerDecision()  # a duplicated or replayed CreateCustomer
    email = normalise_email(cmd["email"])
    new: Row = {"customerId": cmd["customerId"], "status": "registering", "email": email,
           "firstName": cmd["firstName"], "lastName": cmd["lastName"], "phone": cmd["phone"],
           "address": copy.deepcopy(cmd.get("address")), "rejectReason": None, "pendingUpdate": None,
           "lastUpdateError": None, "revision": 1, "createdAt": now_ms, "updatedAt": now_ms,
           "appliedOffsets": {}}
    return CustomerDecision(new, [("ClaimEmail", {"email": email, "customerId": cmd["customerId"]})])


def _changed_fields(row: Row, update: m.UpdateCustomer) -> list[str]:
    # read by field name: the profile fields are a list, not literals
    cmd: Mapping[str, Any] = update
    current: Mapping[str, Any] = row
    names = [n for n in PROFILE_FIELDS if cmd.get(n) is not None and cmd[n] != current[n]]
    if cmd.get("email") is not None and normalise_email(cmd["email"]) != row["email"]:
        names.append("email")
    return names


def _apply(row: Row, update: m.UpdateCustomer, names: list[str], now_ms: int, at_iso: str
           ) -> tuple[Row, Message]:
    new = _bump(row, now_ms)
    cmd: Mapping[str, Any] = update
    fields = cast(dict[str, Any], new)  # written by field name (see PROFILE_FIELDS)
    for name in names:
        fields[name] = normalise_email(cmd[name]) if name == "email" else copy.deepcopy(cmd[name])
    new["pendingUpdate"], new["lastUpdateError"] = None, None
    event = _event("CustomerUpdated", new, at_iso, {"customerId": row["customerId"], "updatedFields": names})
    return new, event


def update(row: Row | None, cmd: m.UpdateCustomer, now_ms: int, at_iso: str) -> CustomerDecision:
    """Apply a change; a new email address first has to be granted."""
    if row is None or row["status"] != "active" or row["pendingUpdate"] is not None:
        return CustomerDecision()
    names = _changed_fields(row, cmd)
    if not names:
        return CustomerDecision()
    if "email" in names:
        new = _bump(row, now_ms)
        new["pendingUpdate"], new["lastUpdateError"] = cmd.copy(), None
        email = normalise_email(cmd["email"] or "")
        return CustomerDecision(new, [("ClaimEmail", {"email": email, "customerId": row["customerId"]})])
    new, event = _apply(row, cmd, names, now_ms, at_iso)
    return CustomerDecision(new, events=[event])


def on_claim_result(row: Row | None, result: m.EmailClaimResult, now_ms: int, at_iso: str) -> CustomerDecision:
    if row is None:
        return CustomerDecision()
    if row["status"] == "registering" and result["email"] == row["email"]:
        new = _bump(row, now_ms)
        if not result["granted"]:
            new["status"], new["rejectReason"] = "rejected", result.get("reason") or "email_taken"
            return CustomerDecision(new)
        new["status"] = "active"
        return CustomerDecision(new, events=[_event("CustomerCreated", new, at_iso, {
            "customerId": new["customerId"], "email": new["email"], "firstName": new["firstName"],
            "lastName": new["lastName"]})])
    pending = row["pendingUpdate"]
    if pending is None or normalise_email(pending.get("email") or "") != result["email"]:
        return CustomerDecision()  # a stale or repeated result
    if not result["granted"]:
        new = _bump(row, now_ms)
        new["pendingUpdate"], new["lastUpdateError"] = None, result.get("reason") or "email_taken"
        return CustomerDecision(new)
    new, event = _apply(row, pending, _changed_fields(row, pending), now_ms, at_iso)
    release_old = ("ReleaseEmail", {"email": row["email"], "customerId": row["customerId"]})
    return CustomerDecision(new, [release_old], [event])


def claim(owner: m.EmailOwner | None, msg: m.ClaimEmail) -> tuple[m.EmailOwner | None, m.EmailClaimResult]:
    """Grant an address nobody holds (or its holder again); deny it otherwise."""
    email, customer = msg["email"], msg["customerId"]
    granted = owner is None or owner["customerId"] == customer
    result: m.EmailClaimResult = {"customerId": customer, "email": email, "granted": granted,
                                  "reason": None if granted else "email_taken"}
    return ({"email": email, "customerId": customer} if owner is None else None), result


def release(owner: m.EmailOwner | None, msg: m.ReleaseEmail) -> bool:
    """Whether the address is to be freed: only its holder can free it."""
    return owner is not None and owner["customerId"] == msg["customerId"]


@dataclass(frozen=True)
class Limits:
    require_known_customer: bool
    max_orders: int
    max_amount_cents: int


def admit(customer: Row | None, window: m.VelocityWindow, amount_cents: int, limits: Limits
          ) -> tuple[bool, str | None, m.VelocityWindow | None]:
    """The customer check of one order: (passed, reason, the window's new value or None)."""
    if limits.require_known_customer and (customer is None or customer["status"] != "active"):
        return False, "unknown_customer", None
    orders, amount = window["orders"] + 1, window["amountCents"] + amount_cents
    if orders > limits.max_orders or amount > limits.max_amount_cents:
        return False, "velocity_limit", None
    return True, None, {"orders": orders, "amountCents": amount}


def notification_for(summary: m.OrderSummary, customer: Row | None, now_ms: int) -> m.Notification | None:
    """The one notification a customer-facing transition gets; None for the others."""
    status = summary["status"]
    if status not in CUSTOMER_FACING or customer is None or customer["status"] != "active":
        return None
    total = summary.get("totalCents")
    fields: dict[str, str] = {"orderId": summary["orderId"], "status": status,
                              "firstName": customer["firstName"], "currency": summary["currency"]}
    if total is not None:
        fields["totalAmount"] = f"{total / 100:.2f}"
    return {"notificationId": f"ntf_{summary['orderId']}_{status}", "customerId": customer["customerId"],
            "channel": "email", "recipient": customer["email"], "template": f"order_{status}",
            "fields": fields, "createdAt": now_ms}
