"""Agent ``process_orders``: the order saga's orchestrator.

Consumes, all keyed by orderId and co-partitioned: orders.commands
(PlaceOrder, CancelOrder), orders.timeouts (ExpireOrder), stock.results
(LineResult), customers.check-results (CustomerCheckResult), payments.events
and shipments.events.
Owns the tables ``orders`` and ``pending-payments`` (their only writer).
Produces orders.events, stock.requests (re-keyed by productId),
customers.checks (re-keyed by customerId), payments.requests and
orders.by-customer.

A thin adapter around ``tables.orders``: read the row, decide, write the row,
send what the change calls for. A message already applied (its offset is in
the row's ``appliedOffsets``) is a replay after a crash: nothing changes, but
what it produced is sent again, in case the crash lost it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from orderflow.agents.handling import Inbound, Outbox
from orderflow.agents.rows import Rows
from orderflow.metrics import ILLEGAL_TRANSITIONS
from orderflow.schemas import catalog
from orderflow.tables import orders as saga
from orderflow.tables.clock import now_ms

if TYPE_CHECKING:
    from orderflow.agents.app import Pipeline

__all__ = ["SOURCES", "OrderSaga", "register"]

log = logging.getLogger(__name__)
AGENT = "process_orders"
SOURCES = (catalog.ORDER_COMMANDS, catalog.ORDER_TIMEOUTS, catalog.STOCK_RESULTS,
           catalog.CUSTOMER_CHECK_RESULTS, catalog.PAYMENT_EVENTS, catalog.SHIPMENT_EVENTS)


class OrderSaga:
    def __init__(self, pipeline: Pipeline) -> None:
        self.orders = Rows(pipeline.tables["orders"], pipeline.codec, catalog.ORDERS_TABLE.value_schema)
        self.pending = Rows(pipeline.tables["pending-payments"], pipeline.codec,
                            catalog.PENDING_PAYMENTS_TABLE.value_schema)
        self.outbox: Outbox = pipeline.outbox
        self.watchers = pipeline.watchers
        self.timeout_ms = int(pipeline.settings.payment_timeout_s * 1000)

    async def handle(self, msg: Inbound) -> str:
        old = self.orders.get(msg.key)
        if old is not None and old["appliedOffsets"].get(msg.topic, -1) >= msg.offset:
            await self._send(old, saga.events_caused_by(old, msg.cause), sorted(saga.effects(old)),
                             summary=True, now_ms=now_ms())
            return "replayed"
        ctx = saga.Context(now_ms=now_ms(), cause=msg.cause, payment_timeout_ms=self.timeout_ms)
        decision = saga.decide(old, msg.kind, msg.record, ctx)
        if decision.ignored is not None:
            ILLEGAL_TRANSITIONS.labels(AGENT).inc()
            log.info("ignored %s %s: %s", msg.kind, msg.cause, decision.ignored)
            return "ignored"
        new = decision.row
        if new is None:
            if msg.kind == "ExpireOrder" and old is not None and saga.payment_deadline(old, self.timeout_ms) is None:
                # an entry whose delete a crash lost: drop it, or it is re-sent forever
                self.pending.delete(msg.key)
            return "unchanged"
        new["appliedOffsets"] = {**new["appliedOffsets"], msg.topic: msg.offset}
        self.orders.put(msg.key, new)
        self._index_payment_deadline(msg.key, old, new)
        events = saga.new_events(old, new)
        await self._send(new, events, saga.new_effects(old, new), summary=bool(events), now_ms=ctx.now_ms)
        self.watchers.notify(msg.key)
        return "applied"

    def _index_payment_deadline(self, key: bytes, old: dict[str, Any] | None, row: dict[str, Any]) -> None:
        deadline = saga.payment_deadline(row, self.timeout_ms)
        if deadline is None:
            # Only an order that was awaiting payment can have an entry: a
            # RocksDB lookup per message for the others showed in the profile.
            # (One left over by a crash is dropped by its next ExpireOrder.)
            if old is not None and saga.payment_deadline(old, self.timeout_ms) is not None:
                self.pending.delete(key)
        elif self.pending.get(key) is None:
            self.pending.put(key, {"orderId": row["orderId"], "deadline": deadline})

    async def _send(self, row: dict[str, Any], events: list[saga.Event], effects: list[saga.Effect],
                    summary: bool, now_ms: int) -> None:
        order_id = row["orderId"]
        for kind, record in events:
            await self.outbox.send(catalog.ORDER_EVENTS, order_id, kind, record)
        for effect in effects:
            spec, key, kind, record = command_for(row, effect, now_ms)
            await self.outbox.send(spec, key, kind, record)
        if summary:
            await self.outbox.send(catalog.ORDERS_BY_CUSTOMER, row["customerId"], "OrderSummary",
                                   saga.summary(row))


def command_for(row: dict[str, Any], effect: saga.Effect, now_ms: int
                ) -> tuple[catalog.TopicSpec, str, str, dict[str, Any]]:
    """The Kafka command that carries out one effect of the saga."""
    kind, index = effect
    order_id = row["orderId"]
    if kind in ("reserve", "release", "sell"):
        line = row["items"][index]
        record: dict[str, Any] = {"orderId": order_id, "line": index, "productId": line["productId"]}
        if kind == "reserve":
            record.update(quantity=line["quantity"], requestedPriceCents=line["requestedPriceCents"])
        name = {"reserve": "ReserveLine", "release": "ReleaseLine", "sell": "SellLine"}[kind]
        return catalog.STOCK_REQUESTS, line["productId"], name, record
    if kind == "check_customer":
        return catalog.CUSTOMER_CHECKS, row["customerId"], "CheckCustomer", {
            "orderId": order_id, "customerId": row["customerId"], "amountCents": row["totalCents"] or 0,
            "at": row["createdAt"]}
    if kind == "request_payment":
        return catalog.PAYMENT_REQUESTS, order_id, "RequestPayment", {
            "orderId": order_id, "customerId": row["customerId"], "amountCents": row["totalCents"] or 0,
            "currency": row["currency"], "paymentMethodId": row["paymentMethodId"],
            # when the order began to wait for payment: the same on every re-send
            "requestedAt": row["history"][-1]["at"]}
    if kind == "refund":
        return catalog.PAYMENT_REQUESTS, order_id, "RefundPayment", {
            "orderId": order_id, "amountCents": row["totalCents"] or 0, "currency": row["currency"],
            "reason": "order_cancelled", "requestedAt": now_ms}
    raise ValueError(f"unknown effect {effect}")



def register(pipeline: Pipeline) -> OrderSaga:
    saga_agent = OrderSaga(pipeline)
    pipeline.add_agent(AGENT, SOURCES, saga_agent.handle)

    return saga_agent
