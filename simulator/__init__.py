"""Simulators of the external services orderflow talks to, for local runs and
tests: aiohttp apps with in-memory state and scriptable misbehaviour."""

from orderflow.simulator.payment_provider import (
    Behaviour,
    create_payment_provider,
    run_payment_provider,
)

__all__ = ["Behaviour", "create_payment_provider", "run_payment_provider"]
