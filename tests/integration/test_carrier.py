"""The carrier client against the real carrier simulator, served on a loopback
port inside the test's event loop: bookings are idempotent, parcels move on
their schedule and show in the feed, a cancel works only before pickup, and
failures are retried, then break the circuit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from orderflow.agents.carrier_client import CarrierClient, CarrierRefused, CarrierUnavailable
from orderflow.simulator.carrier import Behaviour, create_carrier

FAST = {"timeout_s": 1.0, "attempts": 3, "backoff_initial_s": 0.005, "backoff_max_s": 0.02,
        "breaker_failures": 2, "breaker_recovery_s": 0.3}
HELD = Behaviour(picked_up_after_s=None, in_transit_after_s=None, delivered_after_s=None)


class Carrier:
    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url, self.session = base_url, session

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        async with self.session.request(method, self.base_url + path, json=body) as resp:
            return resp.status, await resp.json()

    async def behave(self, **fields: Any) -> None:
        status, body = await self.call("PUT", "/_sim/behaviour", fields)
        assert status == 200, body


@pytest.fixture
async def served() -> AsyncIterator[tuple[Carrier, CarrierClient]]:
    runner = web.AppRunner(create_carrier(HELD, seed=7), shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    url = f"http://{host}:{port}"
    async with aiohttp.ClientSession() as session, CarrierClient(url, **FAST) as client:
        yield Carrier(url, session), client
    await runner.cleanup()


async def test_a_repeated_booking_is_the_same_shipment_and_moves_show_in_the_feed(served) -> None:
    sim, client = served
    first = await client.book("shp_ord_1", "ord_1")
    again = await client.book("shp_ord_1", "ord_1")
    assert again == first and first["status"] == "label_created" and first["trackingNumber"]
    other = await client.book("shp_ord_2", "ord_2")
    assert other["shipmentId"] != first["shipmentId"]
    moved, _ = await sim.call("POST", f"/_sim/shipments/{first['shipmentId']}/advance", {"status": "in_transit"})
    assert moved == 200
    feed = await client.events(0, 10)
    assert [(e["reference"], e["status"]) for e in feed["events"]] == [
        ("ord_1", "label_created"), ("ord_2", "label_created"), ("ord_1", "in_transit")]
    assert (await client.events(feed["last"], 10))["events"] == []
    assert (await client.read(first["shipmentId"]))["status"] == "in_transit"


async def test_a_parcel_follows_its_schedule(served) -> None:
    sim, client = served
    await sim.behave(pickedUpAfterS=0.1, inTransitAfterS=0.2, deliveredAfterS=0.3)
    booking = await client.book("shp_ord_3", "ord_3")
    for _ in range(100):
        if (await client.read(booking["shipmentId"]))["status"] == "delivered":
            break
        await asyncio.sleep(0.05)
    shown = await client.read(booking["shipmentId"])
    assert [e["status"] for e in shown["events"]] == ["label_created", "picked_up", "in_transit", "delivered"]


async def test_a_cancel_succeeds_before_pickup_and_is_refused_after(served) -> None:
    sim, client = served
    early = await client.book("shp_ord_4", "ord_4")
    stopped = await client.cancel(early["shipmentId"])
    assert stopped is not None and stopped["status"] == "cancelled"
    assert await client.cancel(early["shipmentId"]) is not None  # a repeat changes nothing
    late = await client.book("shp_ord_5", "ord_5")
    await sim.call("POST", f"/_sim/shipments/{late['shipmentId']}/advance", {"status": "picked_up"})
    assert await client.cancel(late["shipmentId"]) is None
    with pytest.raises(CarrierRefused):
        await client.read("sim_nope")


async def test_errors_are_retried_and_an_outage_opens_the_breaker_until_it_recovers(served) -> None:
    sim, client = served
    await sim.behave(errorRate=0.3)
    async with CarrierClient(sim.base_url, **{**FAST, "attempts": 6}) as patient:
        bookings = [await patient.book(f"shp_ord_r{i}", f"ord_r{i}") for i in range(10)]  # retried through
    assert len({b["shipmentId"] for b in bookings}) == 10
    await sim.behave(errorRate=0.0, outage=True)
    for _ in range(2):
        with pytest.raises(CarrierUnavailable):
            await client.book("shp_ord_6", "ord_6")
    with pytest.raises(CarrierUnavailable, match="next trial"):
        await client.book("shp_ord_6", "ord_6")  # the breaker answers, the carrier is not called
    await sim.behave(outage=False)
    await asyncio.sleep(0.35)
    assert (await client.book("shp_ord_6", "ord_6"))["status"] == "label_created"
