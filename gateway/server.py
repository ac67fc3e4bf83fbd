"""Runs the gateway process: serves the aiohttp app, over HTTPS when the
settings name a certificate, until SIGINT or SIGTERM; logs (plain or JSON)
through a queue, and exports traces when an OTLP endpoint is set."""

from __future__ import annotations

from aiohttp import web

from orderflow.certs import serving_context
from orderflow.gateway.app import create_gateway
from orderflow.logs import configure_logging
from orderflow.settings import Settings
from orderflow.tracing import start_tracing

__all__ = ["run_gateway"]


def run_gateway(settings: Settings) -> None:
    logs = configure_logging(settings, "gateway")
    start_tracing(settings, "gateway")
    tls = serving_context(settings.gateway_tls_cert_file, settings.gateway_tls_key_file)
    try:
        # aiohttp's access log is off: the timing middleware logs each request itself
        web.run_app(create_gateway(settings), host=settings.gateway_host, port=settings.gateway_port,
                    ssl_context=tls, access_log=None, print=None, shutdown_timeout=10)
    finally:
        logs.stop()
