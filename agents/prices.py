"""Agent ``set_prices``: the single writer of every product's current price.

Consumes prices (PriceUpdated, keyed by productId, co-partitioned with the
stock topics). Owns the table ``prices``, which the stock agent of the same
partition reads to stamp each line it reserves. Produces nothing.

Kept apart from the stock row on purpose: a price update rewrites only this
small row, not the product's stock row, so a busy price feed costs
orders little.

A thin adapter around ``tables.prices``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orderflow.agents.runtime import Inbound
from orderflow.schemas import catalog
from orderflow.schemas.messages import PriceUpdated, ProductPrice
from orderflow.tables import prices as logic

if TYPE_CHECKING:
    from orderflow.agents.app import Pipeline

__all__ = ["AGENT", "PriceKeeper", "register"]

AGENT = catalog.SET_PRICES


class PriceKeeper:
    def __init__(self, pipeline: Pipeline) -> None:
        self.prices = pipeline.rows(catalog.PRICES_TABLE, ProductPrice, writer=AGENT)
        self.watchers = pipeline.watchers

    async def handle(self, msg: Inbound) -> str:
        new = logic.apply_update(self.prices.get(msg.key), msg.record_as(PriceUpdated))
        if new is None:
            return "unchanged"  # not newer than the applied price: a replay, a duplicate or late
        self.prices.put(msg.key, new)
        self.watchers.notify(msg.key)
        return "applied"


def register(pipeline: Pipeline) -> PriceKeeper:
    keeper = PriceKeeper(pipeline)
    pipeline.add_agent(AGENT, (catalog.PRICES,), keeper.handle)
    return keeper
