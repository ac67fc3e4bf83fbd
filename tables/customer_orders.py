"""Pure logic of a customer's order list: one entry per order, newest first,
and its pages. No I/O.

Each order's latest ``OrderSummary`` is an entry of its own under
``customerId/createdAt/orderId``, so a status change rewrites one small row,
not a list that grows with the customer's history. A summary older than the
stored entry (by revision) changes nothing, so replays and reordering cannot
roll an entry back. Lists written before entries existed (``CustomerOrders``
rows under the bare customerId) are still read, beside the entries: an entry
for the same order is newer than anything in them, since they are no longer
written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial

from orderflow.schemas.messages import CustomerOrders, OrderSummary

__all__ = ["Listing", "entry_key", "entry_prefix", "listings", "newer", "page"]

_SEP = "/"
_CREATED_DIGITS = 20  # zero-padded, so keys sort by creation time as bytes do


def entry_prefix(customer_id: str) -> bytes:
    """What the keys of every entry of the customer start with."""
    return f"{customer_id}{_SEP}".encode()


def entry_key(summary: OrderSummary) -> bytes:
    """The entry of the summary's order (its createdAt never changes)."""
    return f"{summary['customerId']}{_SEP}{summary['createdAt']:0{_CREATED_DIGITS}d}{_SEP}{summary['orderId']}".encode()


def newer(stored: OrderSummary | None, summary: OrderSummary) -> OrderSummary | None:
    """The entry to write for ``summary``, or None when the stored one is as new."""
    if stored is not None and stored["revision"] >= summary["revision"]:
        return None
    return summary.copy()


@dataclass(frozen=True, slots=True)
class Listing:
    """One order of the list, before it is read: its place and how to read it."""

    created_at: int
    order_id: str
    read: Callable[[], OrderSummary]


def listings(keys: Iterable[bytes], read_entry: Callable[[bytes], OrderSummary],
             legacy: CustomerOrders | None) -> list[Listing]:
    """The customer's orders from its entries' keys (decoded only when read) and an old list row."""
    found: dict[str, Listing] = {}
    for summary in legacy["orders"] if legacy is not None else ():
        found[summary["orderId"]] = Listing(summary["createdAt"], summary["orderId"], partial(_same, summary))
    for key in keys:
        _customer, created, order_id = key.decode().split(_SEP, 2)
        found[order_id] = Listing(int(created), order_id, partial(read_entry, key))
    return list(found.values())


def _same(summary: OrderSummary) -> OrderSummary:
    return summary


def page(found: Sequence[Listing], number: int, limit: int) -> tuple[list[OrderSummary], int]:
    """Page ``number`` (from 1) of ``limit`` orders, newest first (ties by orderId, descending),
    and the total count; only the page's entries are read."""
    ordered = sorted(found, key=lambda listing: (listing.created_at, listing.order_id), reverse=True)
    start = (number - 1) * limit
    return [listing.read() for listing in ordered[start:start + limit]], len(ordered)
