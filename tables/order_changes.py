"""Pure logic of changing an order before it is paid (seed 002's PUT /orders/{id}).

Consumes a ``ChangeOrder`` (the order's items as they are to be) and the
order row; returns rows. No I/O. Used by ``tables.orders``' decisions.

A change is allowed while the order waits for payment and none is captured.
It never loses the old order before the new one is secured:

1. Started: lines the new items no longer name are marked ``removedBy`` (their
   units stay reserved), new lines (a changed quantity is a removed line and a
   new one) are appended ``pending`` with ``addedBy``; ``paymentVersion`` goes
   up, so the payment agent drops the old request rather than charge it, and
   the saga asks for no payment while the change is pending.
2. Concluded once every added line is decided: all reserved, the change is
   applied and the new total is asked for; any rejected, it is refused (the
   reason names the line): the added lines are taken out (their units given
   back) and the removed ones restored; the old total is asked for again.
3. The removed lines' units go back only once the order is paid. If the old
   request was captured before the payment agent saw the change (the
   provider's call was under way), the captured payment wins: the change is
   undone as in a refusal (``payment_captured_first``) and the order is
   confirmed as it was.

Each change is recorded once by its changeId: a replayed ChangeOrder changes
nothing.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from orderflow.schemas import messages as m
from orderflow.tables import order_status as st

__all__ = ["PENDING", "APPLIED", "REFUSED", "active_lines", "begin", "change_refusal", "concluded",
           "in_progress", "undone"]

Row = m.OrderState
PENDING, APPLIED, REFUSED = "pending", "applied", "refused"
CAPTURED_FIRST = "payment_captured_first"


def in_progress(row: Row) -> bool:
    change = row.get("change")
    return change is not None and change.get("status") == PENDING


def active_lines(row: Row) -> list[m.OrderStateLine]:
    """The lines the order is for now: placed or added, not taken out."""
    return [line for line in row["items"] if line.get("removedBy") is None]


def change_refusal(row: Row, cmd: m.ChangeOrder) -> str | None:
    """Why the order cannot be changed so now, or None when it can (the gateway asks first; the saga decides)."""
    if not cmd["items"]:
        return "an order needs at least one item"
    if row["status"] == st.PENDING:
        return "the order is still being checked; change it once it waits for payment"
    if row["status"] != st.PENDING_PAYMENT or row["paymentStatus"] not in ("pending", "authorized"):
        return f"the order is {row['status']} (payment {row['paymentStatus']}): only an unpaid order can change"
    if in_progress(row):
        return "another change of the order is still being made"
    return None


def _wanted(cmd: m.ChangeOrder) -> Counter[tuple[str, int, int | None]]:
    return Counter((i["productId"], i["quantity"], i.get("priceCents")) for i in cmd["items"])


def begin(row: Row, cmd: m.ChangeOrder, now_ms: int) -> Row:
    """``row`` (a copy the caller owns) with the change started: step 1 above. Lines the new items
    repeat (product and quantity) are kept as they are."""
    wanted = _wanted(cmd)
    for line in active_lines(row):
        same = (line["productId"], line["quantity"], line["requestedPriceCents"])
        loose = (line["productId"], line["quantity"], None)
        if wanted[same] > 0:
            wanted[same] -= 1
        elif wanted[loose] > 0:
            wanted[loose] -= 1
        else:
            line["removedBy"] = cmd["changeId"]
    if not +wanted and all(line.get("removedBy") != cmd["changeId"] for line in row["items"]):
        # the items as they are: recorded, nothing to reserve or pay again
        row["change"] = {"changeId": cmd["changeId"], "status": APPLIED, "reason": None, "at": now_ms,
                         "previousTotalCents": row["totalCents"], "requestedAt": cmd["requestedAt"]}
        return row
    for (product, quantity, price), count in wanted.items():
        row["items"].extend(
            {"productId": product, "quantity": quantity, "requestedPriceCents": price, "unitPriceCents": None,
             "status": "pending", "reason": None, "addedBy": cmd["changeId"], "removedBy": None}
            for _ in range(count))
    row["change"] = {"changeId": cmd["changeId"], "status": PENDING, "reason": None, "at": now_ms,
                     "previousTotalCents": row["totalCents"], "requestedAt": cmd["requestedAt"]}
    row["paymentVersion"] = row.get("paymentVersion", 0) + 1
    row["paymentStatus"] = "pending"
    return concluded(row, now_ms)


def concluded(row: Row, now_ms: int) -> Row:
    """Step 2: once none of the change's added lines is pending, apply or refuse it."""
    change = row.get("change")
    if change is None or change.get("status") != PENDING:
        return row
    added = [line for line in row["items"] if line.get("addedBy") == change.get("changeId")]
    if any(line["status"] == "pending" for line in added):
        return row
    rejected = next((i for i, line in enumerate(row["items"])
                     if line in added and line["status"] != "reserved"), None)
    if rejected is None:
        row["totalCents"] = _total(active_lines(row))
        row["change"] = {**change, "status": APPLIED, "at": now_ms}
        return row
    line = row["items"][rejected]
    return _undo(row, f"line {rejected} ({line['productId']}): {line.get('reason') or line['status']}", now_ms)


def undone(row: Row, now_ms: int) -> Row:
    """Step 3: the old request was captured first; the change, pending or applied, is undone."""
    change = row.get("change")
    if change is None or change.get("status") == REFUSED:
        return row
    return _undo(row, CAPTURED_FIRST, now_ms)


def _undo(row: Row, reason: str, now_ms: int) -> Row:
    change: dict[str, Any] = dict(row.get("change") or {})
    change_id = change.get("changeId")
    for line in row["items"]:
        if line.get("addedBy") == change_id:
            line["removedBy"] = change_id  # its units, if reserved, go back
        elif line.get("removedBy") == change_id:
            line["removedBy"] = None
    row["totalCents"] = change.get("previousTotalCents")
    row["change"] = {**change, "status": REFUSED, "reason": reason, "at": now_ms}  # type: ignore[typeddict-item]
    return row


def _total(lines: list[m.OrderStateLine]) -> int:
    return sum(line["quantity"] * (line["unitPriceCents"] or 0) for line in lines)
