"""The operators' inventory routes end to end: a signed adjustment with its
reason changes on hand, and a product's own low-stock threshold decides when
LowStock fires."""

from __future__ import annotations

import pytest
from support.saga import adjust_stock, await_inventory, keyed_records, new_id, seed_stock
from support.waiting import eventually_value

from orderflow.schemas import catalog
from orderflow.stack import DevStack

pytestmark = pytest.mark.e2e


def test_negative_adjustment_with_a_reason_and_a_product_threshold_that_raises_low_stock(stack: DevStack) -> None:
    product = new_id("prod")
    seed_stock(stack, product, 20)
    # Given three units found damaged
    adjust_stock(stack, product, "adjust", -3, reason="damaged")
    await_inventory(stack, product, on_hand=17, reserved=0)
    # When the product gets its own threshold (low below 15; the default is 5) and a count finds three fewer
    adjust_stock(stack, product, "threshold", 15)
    adjust_stock(stack, product, "adjust", -3, reason="count_correction")
    await_inventory(stack, product, on_hand=14, reserved=0)
    # Then LowStock fires at the product's threshold, once; 17 left under a threshold of 15 said nothing
    events = eventually_value(lambda: keyed_records(stack.settings.kafka, catalog.INVENTORY_EVENTS, product),
                              until=lambda found: len(found) > 0, timeout=30, what="an inventory event")
    assert [(e["eventType"], e["data"]["onHand"], e["data"]["available"], e["data"]["threshold"])
            for e in events] == [("LowStock", 14, 14, 15)]
    # and each adjustment went out as the warehouses send it: a signed delta with its reason
    adjustments = keyed_records(stack.settings.kafka, catalog.INVENTORY_ADJUSTMENTS, product)
    assert [(a["delta"], a["reason"]) for a in adjustments if "delta" in a] == [
        (-3, "damaged"), (-3, "count_correction")]
