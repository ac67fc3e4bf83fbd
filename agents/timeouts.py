"""Timer ``expire_unpaid_orders``: on every worker, scans the ``pending-payments``
rows of its own partitions and, for each order past its payment deadline,
sends ExpireOrder to orders.timeouts (keyed by orderId).

It only sends commands: the order agent that owns the row re-checks the
deadline and cancels the order (Faust tables cannot be written from a timer).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from orderflow.schemas import catalog

if TYPE_CHECKING:
    from orderflow.agents.app import Pipeline
    from orderflow.agents.orders import OrderSaga

__all__ = ["register"]

RESEND_AFTER_S = 10.0  # an expiry not yet applied by then is sent again


def register(pipeline: Pipeline, saga: OrderSaga) -> None:
    app = pipeline.app
    outbox = pipeline.outbox_for(catalog.EXPIRE_UNPAID_ORDERS)
    last_sent: dict[bytes, float] = {}

    @app.timer(interval=pipeline.settings.payment_scan_interval_s)
    async def expire_unpaid_orders() -> None:
        if app.rebalancing or not app.tables_recovered:
            return
        now = time.time()
        due = []
        for count, (key, row) in enumerate(saga.pending.items()):
            if row["deadline"] <= now * 1000 and now - last_sent.get(key, 0.0) > RESEND_AFTER_S:
                due.append((key, row))
            if count % 500 == 499:
                await asyncio.sleep(0)  # iteration is synchronous; let the agents run
        for key, row in due:
            await outbox.send(catalog.ORDER_TIMEOUTS, row["orderId"], "ExpireOrder",
                                       {"orderId": row["orderId"], "deadline": row["deadline"]})
            last_sent[key] = now
        for key in [k for k, at in last_sent.items() if now - at > 10 * RESEND_AFTER_S]:
            del last_sent[key]
