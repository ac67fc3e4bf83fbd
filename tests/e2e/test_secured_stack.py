"""The local stack on its own secured broker, as `orderflow dev` runs it:
SASL_SSL with a SCRAM user per component and the catalog's ACLs. An order
placed over HTTPS reaches confirmed with every process connected as its own
principal, none as a super user.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.http import authorize
from support.saga import await_status, new_customer, place, seed_stock

from orderflow.kafka_acls import OPERATOR
from orderflow.ports import free_port, free_port_run
from orderflow.settings import Settings
from orderflow.stack import DevStack

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def secured_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """``orderflow dev``'s stack: its own secured broker, each process its own principal."""
    settings = Settings(_env_file=None, run_dir=tmp_path_factory.mktemp("secured-stack"),
                        jar_cache=REPO_ROOT / "run", broker_port=free_port_run(2),
                        worker_port=free_port(), gateway_port=free_port(), payment_sim_port=free_port())
    stack = DevStack(settings, workers=1, fresh=True, echo=lambda _line: None)
    try:
        stack.start()
        authorize(stack.gateway_url, stack.token("service", "operator", subject="tests"), stack.ca_file)
        yield stack
    finally:
        stack.stop()


def test_an_order_is_confirmed_on_the_secured_stack(secured_stack: DevStack) -> None:
    assert secured_stack.kafka_secured
    assert secured_stack.settings.kafka.username == OPERATOR
    product = f"p-{uuid.uuid4().hex[:6]}"
    seed_stock(secured_stack, product, 5, price=4.0)
    order_id = place(secured_stack, [{"productId": product, "quantity": 2}], customer=new_customer(secured_stack))
    assert await_status(secured_stack, order_id, "confirmed")["totalAmount"] == 8.0
    # nothing runs as a super user: the worker and the gateway logged in as themselves
    logs = {name: (secured_stack.log_dir / f"{name}.log").read_text() for name in ("worker-0", "gateway")}
    assert all("AUTHORIZATION_FAILED" not in text for text in logs.values())
