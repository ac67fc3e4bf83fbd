"""Timer ``track_shipments``: the carrier's reports, brought to the delivery service.

On the leader only, every ``ORDERFLOW_CARRIER_POLL_INTERVAL_S``: reads the
carrier's event feed (one call per interval for every parcel, not one call
per parcel) from where it last stopped, and sends each entry as
CarrierProgress to shipments.progress, keyed by orderId (the booking's
reference), so the worker that owns the shipment's row applies it. Owns only
its place in the feed, in memory: a new leader reads the feed from its start
again, which re-sends reports the rows already hold (they change nothing).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from orderflow.agents.carrier_client import CarrierClient, CarrierRefused, CarrierUnavailable
from orderflow.schemas import catalog
from orderflow.tables import shipments as logic

if TYPE_CHECKING:
    from orderflow.agents.app import Pipeline

__all__ = ["register"]

log = logging.getLogger(__name__)
FEED_PAGE = 500


def register(pipeline: Pipeline, client: CarrierClient) -> None:
    app = pipeline.app
    outbox = pipeline.outbox_for(catalog.TRACK_SHIPMENTS)
    cursor = {"after": 0}  # in memory: a new leader reads the feed from its start (re-sends change nothing)

    @app.timer(interval=pipeline.settings.carrier_poll_interval_s, on_leader=True)
    async def track_shipments() -> None:
        if app.rebalancing or not app.tables_recovered:
            return
        try:
            page = await client.events(cursor["after"], FEED_PAGE)
        except (CarrierUnavailable, CarrierRefused) as exc:
            log.warning("carrier feed not read: %s", exc)
            return
        for entry in page["events"]:
            order_id = str(entry.get("reference") or "")  # the booking's reference: the order's id
            if not order_id:
                continue
            await outbox.send(catalog.SHIPMENT_PROGRESS, order_id, "CarrierProgress",
                              {"orderId": order_id, "shipmentId": logic.shipment_id_of(order_id),
                               "status": str(entry["status"]), "at": _epoch_ms(str(entry["at"]))})
        cursor["after"] = int(page["last"])


def _epoch_ms(at_iso: str) -> int:
    return int(datetime.fromisoformat(at_iso.replace("Z", "+00:00")).timestamp() * 1000)
