"""What the gateway's handlers share: settings, codec, producer, tracking client,
and the broker probe its /readyz asks."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from orderflow.gateway.producer import AsyncProducer
from orderflow.gateway.tracking import TrackingClient
from orderflow.readiness import BrokerProbe
from orderflow.schemas.codec import Codec
from orderflow.settings import Settings

__all__ = ["CONTEXT", "GatewayContext"]


@dataclass(frozen=True)
class GatewayContext:
    settings: Settings
    codec: Codec
    producer: AsyncProducer
    tracking: TrackingClient
    broker: BrokerProbe


# The key the application holds its context under (a typed key: a bare string warns).
CONTEXT = web.AppKey("ctx", GatewayContext)
