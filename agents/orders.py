"""Agent ``process_orders``: the order saga's orchestrator.

Consumes, all keyed by orderId and co-partitioned: orders.commands
(PlaceOrder, CancelOrder, ChangeOrder), orders.timeouts (ExpireOrder), stock.results
(LineResult), customers.check-results (CustomerCheckResult), payments.events
and shipments.events.
Owns the tables ``orders`` and ``pending-payments`` (their only writer).
Produces orders.events, stock.requests (re-keyed by productId),
customers.checks (re-keyed by customerId), payments.requests,
shipments.requests (a confirmed order's cancel, for the delivery service to
decide) and orders.by-customer.

A thin adapter around ``tables.orders``: read the row, decide, write the row,
send what the change calls for. A message already applied (its offset is in
the row's ``appliedOffsets``) is a replay after a crash: nothing changes, but
what it produced is sent again, in case the crash lost it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from orderflow.agents.order_census import OpenOrders
from orderflow.agents.runtime import Inbound, Outbox
from orderflow.metrics import ILLEGAL_TRANSITIONS, ORDER_STATUS_REACHED, SHIPPING_CONTRADICTIONS
from orderflow.schemas import catalog
from orderflow.schemas.messages import OrderState, PendingPayment
from orderflow.tables import order_status as st
from orderflow.tables import orders as saga
from orderflow.tables.clock import now_ms
from orderflow.tables.envelope import Event

if TYPE_CHECKING:
    from orderflow.agents.app import Pipeline

__all__ = ["COMMAND_TOPICS", "SOURCES", "OrderSaga", "register"]

log = logging.getLogger(__name__)
AGENT = catalog.PROCESS_ORDERS
SOURCES = (catalog.ORDER_COMMANDS, catalog.ORDER_TIMEOUTS, catalog.STOCK_RESULTS,
           catalog.CUSTOMER_CHECK_RESULTS, catalog.PAYMENT_EVENTS, catalog.SHIPMENT_EVENTS)
# The topic of each command the saga's effects build, by schema short name.
COMMAND_TOPICS = {schema.rsplit(".", 1)[-1]: spec
                  for spec in (catalog.STOCK_REQUESTS, catalog.CUSTOMER_CHECKS, catalog.PAYMENT_REQUESTS,
                               catalog.SHIPMENT_REQUESTS)
                  for schema in spec.value_schemas}


class OrderSaga:
    def __init__(self, pipeline: Pipeline) -> None:
        self.orders = pipeline.rows(catalog.ORDERS_TABLE, OrderState, writer=AGENT)
        self.pending = pipeline.rows(catalog.PENDING_PAYMENTS_TABLE, PendingPayment, writer=AGENT)
        self.outbox: Outbox = pipeline.outbox_for(AGENT)
        self.watchers = pipeline.watchers
        self.timeout_ms = int(pipeline.settings.payment_timeout_s * 1000)
        self.carrier_cancels = bool(pipeline.settings.carrier_url)
        self.census = OpenOrders()  # the open orders' statuses, for the gauges of order_census
        for status in st.ORDER_TRANSITIONS:  # at 0 from the start: a status's first order shows in its rate
            ORDER_STATUS_REACHED.labels(status)

    async def handle(self, msg: Inbound) -> str:
        old = self.orders.get(msg.key)
        if old is not None and old["appliedOffsets"].get(msg.topic, -1) >= msg.offset:
            await self._send(old, saga.events_caused_by(old, msg.cause), saga.in_order(saga.effects(old)),
                             summary=True, now_ms=now_ms())
            return "replayed"
        ctx = saga.Context(now_ms=now_ms(), cause=msg.cause, payment_timeout_ms=self.timeout_ms,
                           carrier_cancels=self.carrier_cancels)
        decision = saga.decide(old, msg.kind, msg.record, ctx)
        if decision.ignored is not None:
            ILLEGAL_TRANSITIONS.labels(AGENT).inc()
            log.info("ignored %s %s: %s", msg.kind, msg.cause, decision.ignored)
            return "ignored"
        if decision.contradiction is not None:
            SHIPPING_CONTRADICTIONS.labels(decision.contradiction).inc()
            log.warning("order %s is %s, yet %s arrived (%s): recorded for compensation",
                        old["orderId"] if old else msg.key, old["status"] if old else "unknown",
                        decision.contradiction, msg.cause)
        new = decision.row
        if new is None:
            if msg.kind == "ExpireOrder" and old is not None and saga.payment_deadline(old, self.timeout_ms) is None:
                # an entry whose delete a crash lost: drop it, or it is re-sent forever
                self.pending.delete(msg.key)
            return "unchanged"
        new["appliedOffsets"] = {**new["appliedOffsets"], msg.topic: msg.offset}
        self.orders.put(msg.key, new)
        if old is None or old["status"] != new["status"]:
            log.info("order %s %s -> %s (%s)", new["orderId"], old["status"] if old else "new", new["status"], msg.kind)
            self.census.note(msg.key, new)
            ORDER_STATUS_REACHED.labels(new["status"]).observe(max(0, ctx.now_ms - new["createdAt"]) / 1000)
        self._index_payment_deadline(msg.key, old, new)
        events = saga.new_events(old, new)
        # the customer's list shows status and total: a change of either goes to it
        listed = bool(events) or (old is not None and old["totalCents"] != new["totalCents"])
        await self._send(new, events, saga.new_effects(old, new), summary=listed, now_ms=ctx.now_ms)
        self.watchers.notify(msg.key)
        return "applied"

    def _index_payment_deadline(self, key: bytes, old: OrderState | None, row: OrderState) -> None:
        deadline = saga.payment_deadline(row, self.timeout_ms)
        if deadline is None:
            # Only an order that was awaiting payment can have an entry: a
            # RocksDB lookup per message for the others showed in the profile.
            # (One left over by a crash is dropped by its next ExpireOrder.)
            if old is not None and saga.payment_deadline(old, self.timeout_ms) is not None:
                self.pending.delete(key)
        elif self.pending.get(key) is None:
            self.pending.put(key, {"orderId": row["orderId"], "deadline": deadline})

    async def _send(self, row: OrderState, events: list[Event], effects: list[saga.Effect],
                    summary: bool, now_ms: int) -> None:
        order_id = row["orderId"]
        for kind, record in events:
            await self.outbox.send(catalog.ORDER_EVENTS, order_id, kind, record)
        for effect in effects:
            command = effect.command(row, now_ms)
            await self.outbox.send(COMMAND_TOPICS[command.kind], command.key, command.kind, command.record)
        if summary:
            await self.outbox.send(catalog.ORDERS_BY_CUSTOMER, row["customerId"], "OrderSummary",
                                   saga.summary(row))


def register(pipeline: Pipeline) -> OrderSaga:
    saga_agent = OrderSaga(pipeline)
    pipeline.add_agent(AGENT, SOURCES, saga_agent.handle)
    return saga_agent
