"""Every topic and table has one writer, named in the catalog by component id,
and only that component writes it: the Outbox and Rows refuse anyone else at
run time, and a scan of the sources finds no send to a topic of another
component."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from orderflow.agents.orders import COMMAND_TOPICS
from orderflow.agents.runtime.handling import Outbox, WrongWriter
from orderflow.agents.runtime.rows import ReadOnly, Rows
from orderflow.schemas import catalog
from orderflow.schemas.codec import Codec
from orderflow.schemas.messages import OrderState, Reservation, StockLevel
from orderflow.tables.stock import new_stock

ROOT = Path(__file__).resolve().parents[2]
SEND_CALLS = {"send", "send_raw", "produce"}  # the agents' Outbox, the gateway's produce()


def test_every_writer_is_a_component_id():
    for spec in catalog.all_topics("orderflow"):
        assert spec.writer in catalog.COMPONENTS, spec.name
    for table in catalog.TABLES:
        assert table.writer in catalog.AGENTS, table.name


def test_a_changelog_is_written_by_its_table_s_writer():
    changelogs = {spec.name: spec for spec in catalog.all_topics("orderflow")}
    for table in catalog.TABLES:
        store = catalog.table(table.store)
        assert changelogs[catalog.changelog_topic("orderflow", store.name)].writer == store.writer == table.writer


async def test_an_outbox_refuses_a_topic_of_another_component():
    stock = Outbox(app=None, codec=Codec()).as_writer(catalog.MANAGE_STOCK)  # type: ignore[arg-type]
    with pytest.raises(WrongWriter, match="manage_stock may not write orders.events"):
        await stock.send(catalog.ORDER_EVENTS, "ord_1", "OrderCreated", {})
    gateway = Outbox(app=None, codec=Codec()).as_writer(catalog.GATEWAY)  # type: ignore[arg-type]
    with pytest.raises(WrongWriter, match="gateway may not write deadletters"):
        await gateway.send_raw(catalog.DEAD_LETTERS, b"k", b"v", {})


def test_an_outbox_writes_only_as_a_known_component():
    with pytest.raises(ValueError, match="not a component"):
        Outbox(app=None, codec=Codec()).as_writer("agents.orders")  # type: ignore[arg-type]


def test_rows_are_written_by_their_table_s_writer_only():
    table: dict[bytes, bytes] = {}
    with pytest.raises(ReadOnly, match="manage_stock may not write table orders"):
        Rows(table, Codec(), catalog.ORDERS_TABLE, OrderState, writer=catalog.MANAGE_STOCK)  # type: ignore[arg-type]
    read_only = Rows(table, Codec(), catalog.ORDERS_TABLE, OrderState)  # type: ignore[arg-type]
    with pytest.raises(ReadOnly, match="only process_orders writes it"):
        read_only.delete(b"ord_1")


def test_the_rows_of_a_shared_store_are_each_listed_by_their_own_table_only():
    store: dict[bytes, bytes] = {}
    stock = Rows(store, Codec(), catalog.STOCK_TABLE, StockLevel, writer=catalog.MANAGE_STOCK)  # type: ignore[arg-type]
    reservations = Rows(store, Codec(), catalog.RESERVATIONS_TABLE, Reservation,  # type: ignore[arg-type]
                        writer=catalog.MANAGE_STOCK)
    stock.put(b"p1", new_stock("p1"))
    reservations.put(b"p1/o1/0", {"state": "reserved", "quantity": 2, "unitPriceCents": 100, "reason": None,
                                  "previousState": None, "history": []})
    assert [key for key, _ in stock.items()] == [b"p1"]
    assert [(key, row["quantity"]) for key, row in reservations.items()] == [(b"p1/o1/0", 2)]


def test_the_saga_s_commands_go_to_topics_it_owns():
    assert {spec.writer for spec in COMMAND_TOPICS.values()} == {catalog.PROCESS_ORDERS}


def _catalog_name(node: ast.expr) -> str | None:
    """``NAME`` of an expression ``catalog.NAME`` (or ``catalog.NAME.name``)."""
    if isinstance(node, ast.Attribute) and node.attr == "name":
        node = node.value
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "catalog":
        return node.attr
    return None


def _sends(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, topic) of every send whose first argument is a catalog topic."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if called in SEND_CALLS:
            for arg in node.args[:2]:
                name = _catalog_name(arg)
                if name is not None and isinstance(getattr(catalog, name), catalog.TopicSpec):
                    found.append((node.lineno, getattr(catalog, name).name))
    return found


def _component_of(tree: ast.Module, path: Path) -> str | None:
    """The id a module writes as: its ``outbox_for(...)`` argument (``AGENT``
    or a catalog id); the gateway's modules write as the gateway."""
    if path.parent.name == "gateway":
        return catalog.GATEWAY
    agent = next((node.value for node in tree.body if isinstance(node, ast.Assign)
                  and any(isinstance(t, ast.Name) and t.id == "AGENT" for t in node.targets)), None)
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "outbox_for":
            arg = node.args[0]
            if isinstance(arg, ast.Name) and arg.id == "AGENT" and agent is not None:
                arg = agent
            name = _catalog_name(arg)
            if name is not None:
                ids.add(getattr(catalog, name))
    assert len(ids) <= 1, f"{path.name} writes as {ids}"
    return ids.pop() if ids else None


@pytest.mark.parametrize("path", sorted((ROOT / "agents").rglob("*.py")) + sorted((ROOT / "gateway").glob("*.py")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_module_sends_only_to_the_topics_of_the_component_it_writes_as(path: Path):
    tree = ast.parse(path.read_text())
    sends = _sends(tree)
    component = _component_of(tree, path)
    if component is None:
        # a module handed an agent's outbox (the agents' common loop) sends only what every agent may
        assert all(catalog.topic(topic).writer == catalog.EVERY_AGENT for _, topic in sends), (
            f"{path.name} sends without writing as a component")
        return
    for line, topic in sends:
        spec = catalog.topic(topic)
        assert catalog.may_write(component, spec), (
            f"{path.parent.name}/{path.name}:{line} sends to {topic} as {component}; its writer is {spec.writer}")
