"""Agent ``deliver_orders``: the delivery service.

Consumes, all keyed by orderId and co-partitioned: shipments.requests
(ShipOrder for a confirmed order, booked with the carrier, and
CancelShipment, both from the order saga), shipments.progress (CarrierProgress,
what the carrier reports) and shipments.corrections (an operator's
CorrectShipment). Owns the table ``shipments`` (one row per order's
shipment, with its history). Produces shipments.events: Shipped when the
carrier picked the parcel up, Delivered, ShipmentCancelled when the carrier
stopped it; the saga moves the order on each.

A thin adapter around ``tables.shipments``: read the row, call the carrier
where the message asks for it, move the row, write it, send its new events.
A replayed message (its offset in the row's ``appliedOffsets``) changes
nothing and sends the row's events again. A booking carries the shipment's
id as its idempotency key, so a crash between booking and writing the row
books nothing twice. While the carrier is away the agent waits and tries
again, so no order is left unbooked.

The carrier's reports come from timer ``track_shipments``
(``agents.shipment_tracking``).

Without a carrier (``ORDERFLOW_CARRIER_URL`` unset) the timer does not run
and ShipOrder books nothing: orders then ship only by the operators'
corrections, and a confirmed order's cancel is the saga's alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter

from orderflow.agents import shipment_tracking
from orderflow.agents.carrier_client import CarrierClient, CarrierRefused, CarrierUnavailable
from orderflow.agents.runtime import Inbound, Outbox, Unhandleable
from orderflow.schemas import catalog
from orderflow.schemas.messages import ShipmentState
from orderflow.tables import order_status as st
from orderflow.tables import shipments as logic
from orderflow.tables.clock import now_ms

if TYPE_CHECKING:
    from orderflow.agents.app import Pipeline

__all__ = ["Deliveries", "register"]

log = logging.getLogger(__name__)
AGENT = catalog.DELIVER_ORDERS
SOURCES = (catalog.SHIPMENT_REQUESTS, catalog.SHIPMENT_PROGRESS, catalog.SHIPMENT_CORRECTIONS)

SHIPMENT_MOVES = Counter("orderflow_shipment_moves_total",
                         "Shipment status changes applied, by status and source (carrier, operator, orderflow).",
                         ["status", "source"])
REFUSED_MOVES = Counter("orderflow_shipment_moves_refused_total",
                        "Reported shipment moves refused by the transition table, by source.", ["source"])


class Deliveries:
    def __init__(self, pipeline: Pipeline, client: CarrierClient | None) -> None:
        self.rows = pipeline.rows(catalog.SHIPMENTS_TABLE, ShipmentState, writer=AGENT)
        self.outbox: Outbox = pipeline.outbox_for(AGENT)
        self.client = client
        self.retry_wait_s = pipeline.settings.carrier_breaker_recovery_s
        for source in ("carrier", "operator"):
            REFUSED_MOVES.labels(source)

    async def handle(self, msg: Inbound) -> str:
        row = self.rows.get(msg.key)
        if row is not None and row["appliedOffsets"].get(msg.topic, -1) >= msg.offset:
            await self._publish(logic.events_of(row))
            return "replayed"
        new = await self._decide(row, msg)
        if new is None:
            return "unchanged"
        new["appliedOffsets"] = {**new["appliedOffsets"], msg.topic: msg.offset}
        self.rows.put(msg.key, new)
        if row is None or row["status"] != new["status"]:
            SHIPMENT_MOVES.labels(new["status"], new["history"][-1]["source"]).inc()
            log.info("shipment %s %s -> %s (%s)", new["shipmentId"], row["status"] if row else "new",
                     new["status"], msg.kind)
        await self._publish(logic.new_events(row, new))
        return "applied"

    async def _decide(self, row: ShipmentState | None, msg: Inbound) -> ShipmentState | None:
        record, now = msg.record, now_ms()
        if msg.kind == "ShipOrder":
            if row is not None or self.client is None:
                return None  # booked already (or stopped before); or no carrier: shipped by hand
            order_id = record["orderId"]
            booking = await self._until_answered(lambda: self._client.book(logic.shipment_id_of(order_id), order_id))
            return logic.booked(logic.new_shipment(order_id, now), booking, now)
        if msg.kind == "CancelShipment":
            return await self._cancel(row, record["orderId"], record["reason"], now)
        if msg.kind == "CarrierProgress":
            return None if row is None else self._moved(row, record["status"], record["at"], "carrier")
        if msg.kind == "CorrectShipment":
            base = row or logic.new_shipment(record["orderId"], now, source="operator")
            base = {**base, "carrier": record.get("carrier") or base["carrier"],
                    "trackingNumber": record.get("trackingNumber") or base["trackingNumber"]}
            move = logic.corrected(base, record["status"], now)
            if move.refused is not None:
                REFUSED_MOVES.labels("operator").inc()
                log.warning("correction refused: %s", move.refused)
            return move.row
        return None

    async def _cancel(self, row: ShipmentState | None, order_id: str, reason: str, now: int) -> ShipmentState | None:
        if row is None:  # asked before the confirmation reached this agent: never booked, and never will be
            return logic.cancelled(logic.new_shipment(order_id, now), reason, now).row
        if row["status"] == st.SHIPMENT_CANCELLED or row["status"] in st.LEFT_WAREHOUSE:
            return None  # stopped already, or gone: the saga has (or will have) the event that says so
        carrier_id = row["carrierShipmentId"]
        answer = None if carrier_id is None else await self._until_answered(lambda: self._client.cancel(carrier_id))
        if answer is None and carrier_id is not None:  # picked up meanwhile: the carrier's word wins
            state = await self._until_answered(lambda: self._client.read(carrier_id))
            return self._moved(row, str(state.get("status")), now, "carrier")
        return logic.cancelled(row, reason, now).row

    @property
    def _client(self) -> CarrierClient:
        if self.client is None:
            raise RuntimeError("no carrier configured: only its own sources' messages call it")
        return self.client

    def _moved(self, row: ShipmentState, status: str, at: int, source: str) -> ShipmentState | None:
        move = logic.progressed(row, status, at, source)
        if move.refused is not None:
            REFUSED_MOVES.labels(source).inc()
            log.warning("%s (reported by the %s) refused", move.refused, source)
        return move.row

    async def _until_answered(self, call: Callable[[], Awaitable[Any]]) -> Any:
        while True:
            try:
                return await call()
            except CarrierRefused as exc:
                raise Unhandleable(f"the carrier refused: {exc}") from exc
            except CarrierUnavailable as exc:
                log.warning("carrier unavailable: %s; trying again in %.1fs", exc, self.retry_wait_s)
                await asyncio.sleep(self.retry_wait_s)

    async def _publish(self, events: list[Any]) -> None:
        for kind, record in events:
            await self.outbox.send(catalog.SHIPMENT_EVENTS, record["data"]["orderId"], kind, record)


def register(pipeline: Pipeline) -> Deliveries:
    s = pipeline.settings
    if not s.carrier_url:  # shipments only by the operator's corrections
        deliveries = Deliveries(pipeline, None)
        pipeline.add_agent(AGENT, (catalog.SHIPMENT_REQUESTS, catalog.SHIPMENT_CORRECTIONS), deliveries.handle)
        return deliveries
    client = CarrierClient(s.carrier_url, timeout_s=s.carrier_http_timeout_s, attempts=s.carrier_attempts,
                           backoff_initial_s=s.payment_backoff_initial_s, backoff_max_s=s.payment_backoff_max_s,
                           breaker_failures=s.carrier_breaker_failures,
                           breaker_recovery_s=s.carrier_breaker_recovery_s)
    deliveries = Deliveries(pipeline, client)
    pipeline.add_agent(AGENT, SOURCES, deliveries.handle, around=lambda: client)
    shipment_tracking.register(pipeline, client)
    return deliveries
