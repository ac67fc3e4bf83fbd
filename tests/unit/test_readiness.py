"""A process's /readyz asks the broker at most once per couple of seconds,
however often it is probed, and says why when the broker does not answer."""

from __future__ import annotations

import asyncio

from orderflow.readiness import BrokerProbe


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Broker:
    """A ping that counts its calls; ``down`` makes it fail like a timeout."""

    def __init__(self) -> None:
        self.pings = 0
        self.down = False
        self.delay_s = 0.0

    async def ping(self) -> None:
        self.pings += 1
        await asyncio.sleep(self.delay_s)
        if self.down:
            raise RuntimeError("KafkaError{code=_TRANSPORT,str='Failed to get metadata'}")


async def test_reachable_broker_is_asked_once_per_max_age() -> None:
    broker, clock = Broker(), Clock()
    probe = BrokerProbe(broker.ping, max_age_s=2.0, clock=clock)
    assert await probe.check() == (True, "broker reachable")
    clock.now += 1.9
    assert await probe.check() == (True, "broker reachable")
    assert broker.pings == 1
    clock.now += 0.2
    await probe.check()
    assert broker.pings == 2


async def test_unreachable_broker_is_not_ready_with_the_reason_and_recovers() -> None:
    broker, clock = Broker(), Clock()
    probe = BrokerProbe(broker.ping, max_age_s=2.0, clock=clock)
    broker.down = True
    reachable, why = await probe.check()
    assert not reachable and why.startswith("broker unreachable: ") and "Failed to get metadata" in why
    # the failure is cached too: a probe storm against a dead broker sends no storm of requests
    assert (await probe.check())[0] is False and broker.pings == 1
    broker.down = False
    clock.now += 2.0
    assert await probe.check() == (True, "broker reachable")


async def test_probes_arriving_while_the_broker_is_asked_share_that_answer() -> None:
    broker = Broker()
    broker.delay_s = 0.05
    probe = BrokerProbe(broker.ping)
    answers = await asyncio.gather(*(probe.check() for _ in range(20)))
    assert set(answers) == {(True, "broker reachable")}
    assert broker.pings == 1
