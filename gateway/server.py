"""Runs the gateway process: serves the aiohttp app, over HTTPS when the
settings name a certificate, until SIGINT or SIGTERM."""

from __future__ import annotations

import logging

from aiohttp import web

from orderflow.certs import serving_context
from orderflow.gateway.app import create_gateway
from orderflow.settings import Settings

__all__ = ["run_gateway"]


def run_gateway(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level.upper(),
                        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")
    tls = serving_context(settings.gateway_tls_cert_file, settings.gateway_tls_key_file)
    web.run_app(create_gateway(settings), host=settings.gateway_host, port=settings.gateway_port,
                ssl_context=tls, access_log=None, print=None, shutdown_timeout=10)
