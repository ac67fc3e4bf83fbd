"""The thin slice through HTTP: POST an order to the gateway, the worker stores
it in the orders table, GET returns it, through the gateway or any worker."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from confluent_kafka import Consumer, TopicPartition
from support.http import get, post_json, request
from support.metrics import counter_total, sample_value
from support.saga import await_status, ledger, new_customer, new_id, payments_of, seed_stock
from support.waiting import eventually, eventually_value

from orderflow.schemas import catalog
from orderflow.stack import DevStack

pytestmark = pytest.mark.e2e

ORDER = {
    "customerId": "cust_e2e",
    "items": [{"productId": "prod_a", "quantity": 2}, {"productId": "prod_b", "quantity": 1, "price": 12.5}],
    "shippingAddress": {"street": "1 Main St", "city": "Springfield", "zipCode": "12345"},
    "paymentMethodId": "pm_visa",
}


def place(stack: DevStack, body: dict = ORDER) -> str:
    reply = post_json(f"{stack.gateway_url}/api/v1/orders", body)
    assert reply.status == 202, reply.body
    order_id = reply.json()["orderId"]
    assert reply.json()["status"] == "pending"
    assert reply.headers["Location"] == f"/api/v1/orders/{order_id}"
    return order_id


def await_order(base_url: str, order_id: str) -> dict:
    reply = eventually_value(lambda: get(f"{base_url}/api/v1/orders/{order_id}"), until=lambda r: r.status == 200,
                             timeout=30, what=f"order {order_id} readable")
    return reply.json()


def ingress_end_offsets(bootstrap: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "offsets-probe"})
    try:
        meta = consumer.list_topics(catalog.ORDER_COMMANDS.name, timeout=10)
        parts = meta.topics[catalog.ORDER_COMMANDS.name].partitions
        return sum(consumer.get_watermark_offsets(TopicPartition(catalog.ORDER_COMMANDS.name, p),
                                                  timeout=10)[1] for p in parts)
    finally:
        consumer.close()


def test_posted_order_is_stored_and_read_back(stack: DevStack) -> None:
    order_id = place(stack)
    order = await_order(stack.gateway_url, order_id)
    assert order["orderId"] == order_id
    assert order["customerId"] == "cust_e2e"
    assert order["statusHistory"][0]["status"] == "pending"
    assert [(i["productId"], i["quantity"]) for i in order["items"]] == [("prod_a", 2), ("prod_b", 1)]
    assert order["items"][1]["requestedPrice"] == 12.5
    assert order["shippingAddress"]["city"] == "Springfield"


def test_order_for_products_nobody_stocks_ends_rejected(stack: DevStack) -> None:
    order_id = place(stack)

    order = eventually_value(lambda: await_order(stack.gateway_url, order_id),
                             until=lambda o: o["status"] != "pending", timeout=30, what=f"order {order_id} settled")
    assert order["status"] == "rejected"
    assert [i["reason"] for i in order["items"]] == ["unknown_product", "unknown_product"]
    assert [h["status"] for h in order["statusHistory"]] == ["pending", "rejected"]


def test_every_worker_answers_for_every_order(stack: DevStack) -> None:
    order_ids = [place(stack) for _ in range(12)]
    for order_id in order_ids:
        await_order(stack.gateway_url, order_id)
    for index in range(stack.workers):
        for order_id in order_ids:
            reply = get(f"{stack.worker_url(index)}/orders/{order_id}")
            assert reply.status == 200, (index, order_id, reply.body)
            assert reply.json()["orderId"] == order_id


def test_unknown_order_is_404_with_json_error(stack: DevStack) -> None:
    reply = get(f"{stack.gateway_url}/api/v1/orders/ord_does_not_exist")
    assert reply.status == 404
    assert reply.json()["error"] == "not_found"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**ORDER, "items": []}, "items"),
        ({**ORDER, "items": [{"productId": "p", "quantity": 0}]}, "items.0.quantity"),
        ({k: v for k, v in ORDER.items() if k != "customerId"}, "customerId"),
        ({**ORDER, "items": [{"productId": "p", "quantity": 1, "price": 1.001}]}, "items.0.price"),
    ],
)
def test_malformed_order_gets_400_naming_the_field_and_produces_nothing(
    stack: DevStack, body: dict, field: str
) -> None:
    before = ingress_end_offsets(stack.settings.kafka_servers)
    reply = post_json(f"{stack.gateway_url}/api/v1/orders", body)
    assert reply.status == 400
    assert field in [f["field"] for f in reply.json()["fields"]]
    assert ingress_end_offsets(stack.settings.kafka_servers) == before


def test_body_that_is_not_json_gets_400_json_error(stack: DevStack) -> None:
    reply = request("POST", f"{stack.gateway_url}/api/v1/orders", b"{nope",
                    {"Content-Type": "application/json"})
    assert reply.status == 400
    assert "not valid JSON" in reply.json()["message"]


def test_each_process_serves_health_readiness_and_metrics(stack: DevStack) -> None:
    workers = [stack.worker_url(i) for i in range(stack.workers)]
    gateway, simulator = stack.gateway_url, stack.payment_simulator_url
    for base in [gateway, *workers, simulator]:
        assert get(f"{base}/healthz").status == 200
        ready = get(f"{base}/readyz")
        assert ready.status == 200 and ready.json()["ready"] is True, (base, ready.body)
        metrics = get(f"{base}/metrics")
        assert metrics.status == 200 and metrics.headers["Content-Type"].startswith("text/plain"), base
    # each process counts what it serves, under the names a dashboard reads
    assert (sample_value(gateway, "orderflow_http_request_seconds_count", route="/healthz", status="200")
            or 0) >= 1
    for worker in workers:  # one payment-provider breaker per worker, in exactly one state
        states = {state: sample_value(worker, "orderflow_payment_provider_breaker_state", state=state)
                  for state in ("closed", "open", "half_open")}
        assert sorted(states.values()) == [0.0, 0.0, 1.0], (worker, states)
    handled = counter_total(workers, "orderflow_messages_handled", agent="process_orders", outcome="applied")
    place(stack)
    eventually(lambda: counter_total(workers, "orderflow_messages_handled", agent="process_orders",
                                     outcome="applied") > handled, timeout=30, what="an order handled and counted")
    reads = sample_value(simulator, "orderflow_payment_sim_calls_total", endpoint="read") or 0
    provider_key = {"Authorization": f"Bearer {stack.settings.payment_api_key}"}
    assert get(f"{simulator}/api/v1/payments/pay_unknown", headers=provider_key).status == 404
    assert sample_value(simulator, "orderflow_payment_sim_calls_total", endpoint="read") == reads + 1


def test_a_client_that_prefers_to_wait_gets_the_order_decided_with_201(stack: DevStack) -> None:
    product = new_id("prod")
    seed_stock(stack, product, 5, price=100.0)
    customer = new_customer(stack)
    body = {"customerId": customer, "items": [{"productId": product, "quantity": 2}], "paymentMethodId": "pm_visa"}
    reply = post_json(f"{stack.gateway_url}/api/v1/orders", body, {"Prefer": "wait=5"})
    assert reply.status == 201, reply.body
    placed = reply.json()
    assert placed["status"] in ("pending_payment", "confirmed") and placed["totalAmount"] == 200.0
    assert reply.headers["Preference-Applied"] == "wait=5"
    assert reply.headers["Location"] == f"/api/v1/orders/{placed['orderId']}"
    created = datetime.fromisoformat(placed["createdAt"].replace("Z", "+00:00"))
    assert placed["estimatedDelivery"] == (created + timedelta(days=5)).date().isoformat()

    unknown = {**body, "items": [{"productId": new_id("ghost"), "quantity": 1}]}
    rejected = post_json(f"{stack.gateway_url}/api/v1/orders", unknown, {"Prefer": "wait=5"})
    assert rejected.status == 201, rejected.body
    assert (rejected.json()["status"], rejected.json()["estimatedDelivery"]) == ("rejected", None)
    # without the preference: 202 at once, as always
    assert post_json(f"{stack.gateway_url}/api/v1/orders", body).status == 202


def test_an_orders_payment_is_read_back_with_its_history_and_only_the_methods_last4(stack: DevStack) -> None:
    product = new_id("prod")
    seed_stock(stack, product, 5, price=12.5)
    customer = new_customer(stack)
    order_id = place_for(stack, customer, product)
    await_status(stack, order_id, "confirmed")
    reply = get(f"{stack.gateway_url}/api/v1/orders/{order_id}/payment")
    assert reply.status == 200, reply.body
    payment = reply.json()
    assert (payment["orderId"], payment["status"], payment["amount"], payment["currency"]) == (
        order_id, "captured", 25.0, "USD")
    assert (payment["capturedAmount"], payment["refundedAmount"]) == (25.0, 0.0)
    assert payment["paymentMethod"] == {"type": "card", "last4": "visa"}  # of pm_visa: never more
    assert [h["status"] for h in payment["history"]] == ["authorized", "captured"]
    assert payment["paymentId"] == f"pay_{order_id}" and payment["createdAt"]
    # the provider's own id, the one the ledger knows, is the transaction id
    at_provider = [p for p in ledger(stack)["payments"] if p["orderId"] == order_id]
    assert [p["paymentId"] for p in at_provider] == [payment["transactionId"]]
    # the same payment by its own id (seed 003's GET /payments/{paymentId})
    by_id = get(f"{stack.gateway_url}/api/v1/payments/{payment['paymentId']}")
    assert (by_id.status, by_id.json()) == (200, payment)
    assert get(f"{stack.gateway_url}/api/v1/payments/{payment['transactionId']}").status == 404
    assert get(f"{stack.gateway_url}/api/v1/payments/pay_{new_id('ord')}").status == 404
    # another customer sees nothing, as for an order that does not exist
    other = get(f"{stack.gateway_url}/api/v1/orders/{order_id}/payment",
                token=stack.token("customer", subject="cust_someone_else"))
    assert other.status == 404
    assert get(f"{stack.gateway_url}/api/v1/orders/{new_id('ord')}/payment").status == 404


def place_for(stack: DevStack, customer: str, product: str) -> str:
    body = {"customerId": customer, "items": [{"productId": product, "quantity": 2}], "paymentMethodId": "pm_visa"}
    reply = post_json(f"{stack.gateway_url}/api/v1/orders", body)
    assert reply.status == 202, reply.body
    return str(reply.json()["orderId"])


def test_an_operator_refunds_part_of_a_payment_once_then_the_rest(stack: DevStack) -> None:
    product = new_id("prod")
    seed_stock(stack, product, 5, price=12.5)
    customer = new_customer(stack)
    order_id = place_for(stack, customer, product)  # 2 x 12.50
    await_status(stack, order_id, "confirmed")
    payment_url = f"{stack.gateway_url}/api/v1/payments/pay_{order_id}"
    refund_url = f"{payment_url}/refund"
    # operators only; a body that says too little is named field by field
    assert post_json(refund_url, {"amount": 5, "reason": "x"},
                     token=stack.token("customer", subject=customer)).status == 403
    bad = post_json(refund_url, {"amount": -1})
    assert bad.status == 400, bad.body
    assert {f["field"] for f in bad.json()["fields"]} == {"amount", "reason"}

    key = {"Idempotency-Key": new_id("refund")}
    first = post_json(refund_url, {"amount": 10.0, "reason": "box arrived damaged"}, headers=key)
    assert first.status == 202, first.body
    assert first.headers["Location"] == f"/api/v1/payments/pay_{order_id}"
    request_id = first.json()["refundRequestId"]
    payment = eventually_value(lambda: get(payment_url).json(), until=lambda p: p["refunds"],
                               timeout=30, what="the refund decided")
    assert (payment["status"], payment["capturedAmount"], payment["refundedAmount"]) == (
        "partially_refunded", 25.0, 10.0)
    assert [(r["refundRequestId"], r["status"], r["amount"], r["reason"]) for r in payment["refunds"]] == [
        (request_id, "refunded", 10.0, "box arrived damaged")]
    # the same request again: answered as decided, refunded once
    again = post_json(refund_url, {"amount": 10.0, "reason": "box arrived damaged"}, headers=key)
    assert (again.status, again.json()["refundRequestId"], again.json()["status"]) == (200, request_id, "refunded")
    assert await_payment_status(stack, order_id, "partially_refunded")["status"] == "confirmed"

    too_much = post_json(refund_url, {"amount": 20.0, "reason": "goodwill"})
    assert too_much.status == 409 and "exceeds" in too_much.json()["message"], too_much.body
    rest = post_json(refund_url, {"reason": "order returned"})  # no amount: all that is left
    assert rest.status == 202, rest.body
    payment = eventually_value(lambda: get(payment_url).json(), until=lambda p: p["status"] == "refunded",
                               timeout=30, what="the rest refunded")
    assert payment["refundedAmount"] == 25.0
    assert [r["amount"] for r in payment["refunds"]] == [10.0, 15.0]
    assert await_payment_status(stack, order_id, "refunded")["status"] == "confirmed"
    [at_provider] = payments_of(stack, order_id)
    assert (at_provider["refunds"], at_provider["refundedAmount"]) == (2, 25.0)
    assert post_json(refund_url, {"reason": "once more"}).status == 409


def await_payment_status(stack: DevStack, order_id: str, payment_status: str) -> dict:
    reply = eventually_value(lambda: get(f"{stack.gateway_url}/api/v1/orders/{order_id}"),
                             until=lambda r: r.status == 200 and r.json()["paymentStatus"] == payment_status,
                             timeout=30, what=f"order {order_id} with payment {payment_status}")
    return reply.json()
