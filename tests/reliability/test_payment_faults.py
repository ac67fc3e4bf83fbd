"""Payment provider faults during a steady stream of orders: injected errors
(half of them after the call took effect), latency past the client's timeout,
and a full outage held until the circuit breaker opens. The breaker closes
again once the provider is back, every order completes, and nobody is charged
twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.chaos import OrderStream, chaos_stack, run_and_check
from support.http import put_json
from support.metrics import counter_total, sample_value
from support.waiting import eventually

pytestmark = pytest.mark.chaos


def test_provider_errors_latency_and_outage_open_and_close_the_breaker_and_charge_nobody_twice(
    tmp_path: Path
) -> None:
    with chaos_stack(tmp_path, payment_http_timeout_s=1.0, payment_breaker_failures=3) as (stack, _kafka):
        behaviour = f"{stack.payment_simulator_url}/_sim/behaviour"
        workers = [stack.worker_url(i) for i in range(stack.workers)]

        def unavailable(worker: str) -> float:
            return counter_total([worker], "orderflow_payment_provider_calls", outcome="unavailable")

        def breaker_open(worker: str) -> bool:
            # The gauge, not the breaker_open counter: a worker's payment agent
            # waits out the breaker's recovery time between tries, so its next
            # try is the half-open trial and the breaker never has to refuse one.
            return sample_value(worker, "orderflow_payment_provider_breaker_state", state="open") == 1.0

        def captured() -> float:
            return counter_total(workers, "orderflow_payment_provider_calls", step="capture", outcome="captured")

        captured_during_outage: list[float] = []

        def misbehave(stream: OrderStream) -> int:
            for step in ({"errorRate": 0.3}, {"errorRate": 0.0, "latencyMs": 1500}):
                target = len(stream.order_ids) + 120
                eventually(lambda t=target: stream.sent(t), timeout=60, what="orders flowing")
                assert put_json(behaviour, step).status == 200
            target = len(stream.order_ids) + 120
            eventually(lambda: stream.sent(target), timeout=60, what="orders flowing")
            failed_before = {w: unavailable(w) for w in workers}
            assert put_json(behaviour, {"latencyMs": 0, "outage": True}).status == 200
            # the outage lasts until a worker's calls failed often enough to open its breaker, and it is open
            threshold = stack.settings.payment_breaker_failures
            eventually(lambda: any(unavailable(w) >= failed_before[w] + threshold and breaker_open(w)
                                   for w in workers), timeout=60, what="a circuit breaker opened by the outage")
            captured_during_outage.append(captured())
            assert put_json(behaviour, {"outage": False}).status == 200
            return 3

        run_and_check(stack, misbehave, count=550, rate=40)
        # the breaker closed again: payments went through after the outage, and no worker's breaker is open
        assert captured() > captured_during_outage[0]
        assert [sample_value(w, "orderflow_payment_provider_breaker_state", state="closed") for w in workers] == [
            1.0, 1.0]
