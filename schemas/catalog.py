"""The topic catalog: every topic, table and schema of orderflow, declared once.

Owns: topic names, their key, the value schemas each may carry, partition
counts, cleanup policy and the single component that writes each topic; the
checked-in schema ids; the table declarations and their changelog topics.
Nothing else in the code base types a topic name: agents, gateway, tests and
the topic-init step all read this module.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ORDERS_TABLE",
    "ORDER_COMMANDS",
    "SCHEMA_IDS",
    "TABLES",
    "TOPICS",
    "TableSpec",
    "TopicSpec",
    "all_topics",
    "changelog_topic",
    "table",
    "topic",
]

NAMESPACE = "orderflow.v1"

# Schema ids used in the wire framing when no Schema Registry is configured.
# An id is never reused for a different schema; append, never renumber.
SCHEMA_IDS: dict[str, int] = {
    f"{NAMESPACE}.Address": 1,
    f"{NAMESPACE}.PlaceOrder": 2,
    f"{NAMESPACE}.OrderState": 3,
}

# Schemas other schemas refer to by name; parsed first, never sent on their own.
SHARED_SCHEMAS: tuple[str, ...] = (f"{NAMESPACE}.Address",)


@dataclass(frozen=True)
class TopicSpec:
    """One Kafka topic.

    ``partitions`` None means the deployment's default partition count, so
    topics that are joined by key stay co-partitioned.
    """

    name: str
    key: str
    value_schemas: tuple[str, ...]
    writer: str
    partitions: int | None = None
    compacted: bool = False
    json_ingress: bool = False
    doc: str = ""

    @property
    def default_schema(self) -> str:
        return self.value_schemas[0]


@dataclass(frozen=True)
class TableSpec:
    """One Faust table: its key, row schema and the agent that writes it."""

    name: str
    key: str
    value_schema: str
    writer: str
    source_topic: str
    doc: str = ""


ORDER_COMMANDS = TopicSpec(
    name="orders.commands",
    key="orderId",
    value_schemas=(f"{NAMESPACE}.PlaceOrder",),
    writer="gateway (and any external producer)",
    json_ingress=True,
    doc="Ingress: commands for an order, keyed by orderId.",
)

TOPICS: tuple[TopicSpec, ...] = (ORDER_COMMANDS,)

ORDERS_TABLE = TableSpec(
    name="orders",
    key="orderId",
    value_schema=f"{NAMESPACE}.OrderState",
    writer="agents.orders.track_orders",
    source_topic=ORDER_COMMANDS.name,
    doc="Every order as tracking reads show it.",
)

TABLES: tuple[TableSpec, ...] = (ORDERS_TABLE,)


def changelog_topic(app_id: str, table_name: str) -> str:
    """The changelog topic Faust uses for a table of app ``app_id``."""
    return f"{app_id}-{table_name}-changelog"


def topic(name: str) -> TopicSpec:
    """Look a topic up by name; a typo fails loudly at startup."""
    for spec in TOPICS:
        if spec.name == name:
            return spec
    raise KeyError(f"no topic {name!r} in the catalog")


def table(name: str) -> TableSpec:
    for spec in TABLES:
        if spec.name == name:
            return spec
    raise KeyError(f"no table {name!r} in the catalog")


def all_topics(app_id: str) -> tuple[TopicSpec, ...]:
    """Every topic the deployment needs, changelogs included, for creation."""
    changelogs = tuple(
        TopicSpec(
            name=changelog_topic(app_id, t.name),
            key=t.key,
            value_schemas=(t.value_schema,),
            writer=t.writer,
            partitions=topic(t.source_topic).partitions,
            compacted=True,
            doc=f"Changelog of table {t.name!r}.",
        )
        for t in TABLES
    )
    # Faust subscribes every worker to this topic to elect a leader; it carries no data.
    leader = TopicSpec(
        name=f"{app_id}-__assignor-__leader",
        key="none",
        value_schemas=(),
        writer="faust (leader election)",
        partitions=1,
        doc="Faust-internal leader election.",
    )
    return TOPICS + changelogs + (leader,)
