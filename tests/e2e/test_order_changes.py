"""Changing an order before it is paid (seed 002's PUT /orders/{id}), over HTTP against the real stack:
the new items reserved, the removed ones given back once paid, the new total charged once; a change
that cannot be reserved refused with the order as it was; a paid order unchangeable."""

from __future__ import annotations

import pytest
from support.http import get, put_json
from support.saga import (
    await_inventory,
    await_status,
    new_customer,
    new_id,
    payments_of,
    place,
    seed_stock,
    set_provider,
)

from orderflow.stack import DevStack

pytestmark = pytest.mark.e2e


def test_an_unpaid_order_changes_its_items_and_is_charged_the_new_total_once(stack: DevStack) -> None:
    kept, dropped, added, scarce = (new_id("prod") for _ in range(4))
    for product, price in ((kept, 10.0), (dropped, 5.0), (added, 2.5)):
        seed_stock(stack, product, 10, price=price)
    seed_stock(stack, scarce, 1, price=1.0)
    customer = new_customer(stack)
    set_provider(stack, outage=True)  # the order waits for payment while it is changed
    try:
        order_id = place(stack, [{"productId": kept, "quantity": 2}, {"productId": dropped, "quantity": 1}],
                         customer=customer)
        assert await_status(stack, order_id, "pending_payment")["totalAmount"] == 25.0
        url = f"{stack.gateway_url}/api/v1/orders/{order_id}"
        changed = put_json(url, {"items": [{"productId": kept, "quantity": 3}, {"productId": added, "quantity": 4}]},
                           token=stack.token("customer", subject=customer))
        assert changed.status == 200, changed.body
        order = changed.json()
        assert (order["change"]["status"], order["totalAmount"], order["status"]) == ("applied", 40.0,
                                                                                   "pending_payment")
        assert [(i["productId"], i["quantity"], i["itemStatus"]) for i in order["items"]] == [
            (kept, 2, "CANCELED"), (dropped, 1, "CANCELED"), (kept, 3, "EXECUTED"), (added, 4, "EXECUTED")]
        # a change that cannot be reserved is refused, naming the line; the order stays as it was
        refused = put_json(url, {"items": [{"productId": kept, "quantity": 3}, {"productId": scarce, "quantity": 5}]})
        assert refused.status == 409, refused.body
        assert refused.json()["error"] == "change_refused" and "out_of_stock" in refused.json()["message"]
        assert get(url).json()["totalAmount"] == 40.0
    finally:
        set_provider(stack, outage=False)
    confirmed = await_status(stack, order_id, "confirmed", timeout=60)
    assert (confirmed["totalAmount"], confirmed["paymentStatus"]) == (40.0, "captured")
    captured = [p for p in payments_of(stack, order_id) if p["captures"]]
    assert [(p["captures"], p["capturedAmount"]) for p in captured] == [(1, 40.0)]
    # sold what the order is for now; what the changes took out is back on the shelf
    await_inventory(stack, kept, on_hand=7, reserved=0)
    await_inventory(stack, added, on_hand=6, reserved=0)
    await_inventory(stack, dropped, on_hand=10, reserved=0)
    await_inventory(stack, scarce, on_hand=1, reserved=0)
    # paid: no more changes
    late = put_json(url, {"items": [{"productId": kept, "quantity": 1}]})
    assert late.status == 409 and "only an unpaid order" in late.json()["message"], late.body
