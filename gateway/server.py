"""Runs the gateway process: serves the aiohttp app until SIGINT or SIGTERM."""

from __future__ import annotations

import logging

from aiohttp import web

from orderflow.gateway.app import create_gateway
from orderflow.settings import Settings

__all__ = ["run_gateway"]


def run_gateway(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level.upper(),
                        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")
    web.run_app(create_gateway(settings), host=settings.gateway_host, port=settings.gateway_port,
                access_log=None, print=None, shutdown_timeout=10)
