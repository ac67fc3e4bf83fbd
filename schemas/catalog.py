"""The topic catalog: every topic, table and schema of orderflow, declared once.

Owns: topic names, their key, the value schemas each may carry, partition
counts, cleanup policy and the single component that writes each topic (by
its id: the Faust agent's or timer's name, or the gateway); the checked-in
schema ids; the table declarations, their writer and their changelog topics.
Nothing else in the code base types a topic name: agents, gateway, tests and
the topic-init step all read this module.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "API_KEYS",
    "BENCH_EVENTS",
    "BENCH_TOPICS",
    "CUSTOMERS_TABLE",
    "CUSTOMER_CHECKS",
    "CUSTOMER_CHECKS_TABLE",
    "CUSTOMER_CHECK_RESULTS",
    "CUSTOMER_COMMANDS",
    "CUSTOMER_EVENTS",
    "CUSTOMER_ORDERS_TABLE",
    "CUSTOMER_ORDER_ENTRIES_TABLE",
    "EMAIL_CLAIMS",
    "EMAIL_CLAIM_RESULTS",
    "EMAIL_OWNERS_TABLE",
    "NOTIFICATIONS",
    "NOTIFICATIONS_DELIVERED_TABLE",
    "NOTIFICATIONS_SENT_TABLE",
    "VELOCITY_TABLE",
    "DEAD_LETTERS",
    "INVENTORY_ADJUSTMENTS",
    "INVENTORY_EVENTS",
    "ORDERS_BY_CUSTOMER",
    "ORDERS_TABLE",
    "ORDER_COMMANDS",
    "ORDER_EVENTS",
    "ORDER_TIMEOUTS",
    "PAYMENTS_TABLE",
    "PAYMENT_EVENTS",
    "PAYMENT_REFUNDS",
    "PAYMENT_REQUESTS",
    "PENDING_PAYMENTS_TABLE",
    "PRICES",
    "PRICES_TABLE",
    "RESERVATIONS_TABLE",
    "SHIPMENT_CORRECTIONS",
    "SHIPMENT_EVENTS",
    "SHIPMENT_PROGRESS",
    "SHIPMENT_REQUESTS",
    "SHIPMENTS_TABLE",
    "STOCK_REQUESTS",
    "STOCK_RESULTS",
    "STOCK_TABLE",
    "SCHEMA_IDS",
    "TABLES",
    "rows_of",
    "TOPICS",
    "TableSpec",
    "TopicSpec",
    "WrongWriter",
    "all_topics",
    "changelog_topic",
    "check_writer",
    "may_write",
    "table",
    "topic",
]

NAMESPACE = "orderflow.v1"

# The components that write topics and tables: the Faust agents (by agent
# name), the payment-timeout timer and the gateway. An agent's Outbox and
# Rows refuse to write what another component owns.
GATEWAY = "gateway"
PROCESS_ORDERS = "process_orders"
EXPIRE_UNPAID_ORDERS = "expire_unpaid_orders"
MANAGE_STOCK = "manage_stock"
SET_PRICES = "set_prices"
PROCESS_PAYMENTS = "process_payments"
MANAGE_CUSTOMERS = "manage_customers"
OWN_EMAILS = "own_emails"
SEND_NOTIFICATIONS = "send_notifications"
DELIVER_ORDERS = "deliver_orders"
TRACK_SHIPMENTS = "track_shipments"
EVERY_AGENT = "every agent"  # the dead letters: each agent writes those it could not handle
BENCH = "bench"  # `orderflow bench ceilings`, outside a deployment
FAUST = "faust"  # Faust's own leader election
OPERATOR_TOOLS = "operator tools"  # the operator's commands (`orderflow api-key`)
AGENTS = frozenset({PROCESS_ORDERS, MANAGE_STOCK, SET_PRICES, PROCESS_PAYMENTS, MANAGE_CUSTOMERS, OWN_EMAILS,
                    SEND_NOTIFICATIONS, DELIVER_ORDERS})
COMPONENTS = AGENTS | {GATEWAY, EXPIRE_UNPAID_ORDERS, TRACK_SHIPMENTS, EVERY_AGENT, BENCH, FAUST, OPERATOR_TOOLS}

# Schema ids used in the wire framing when no Schema Registry is configured.
# An id is never reused for a different schema; append, never renumber.
SCHEMA_IDS: dict[str, int] = {
    f"{NAMESPACE}.{name}": schema_id
    for schema_id, name in enumerate(
        (
            "Address", "PlaceOrder", "OrderState",  # 1-3
            "CancelOrder", "ExpireOrder", "ReserveLine", "ReleaseLine", "SellLine", "LineResult",  # 4-9
            "Restocked", "Adjusted", "StockSet", "PriceUpdated",  # 10-13
            "RequestPayment", "RefundPayment",  # 14-15
            "PaymentAuthorized", "PaymentCompleted", "PaymentFailed", "PaymentRefunded",  # 16-19
            "Shipped", "Delivered",  # 20-21
            "OrderCreated", "OrderStatusChanged", "OrderCancelled", "OrderSummary",  # 22-25
            "CustomerOrders", "StockLevel", "Reservation", "PaymentState", "PendingPayment",  # 26-30
            "LowStock", "OutOfStock", "BackInStock", "StockShortage", "LowStockThresholdSet",  # 31-35
            "CreateCustomer", "UpdateCustomer", "ClaimEmail", "ReleaseEmail", "EmailClaimResult",  # 36-40
            "CustomerCreated", "CustomerUpdated", "CustomerState", "EmailOwner",  # 41-44
            "CheckCustomer", "CustomerCheckResult", "CustomerCheck", "VelocityWindow",  # 45-48
            "Notification", "NotificationSent",  # 49-50
            "ProductPrice",  # 51
            "ApiKey",  # 52
            "NotificationDelivered",  # 53
            "ShipmentState", "CarrierProgress", "CancelShipment", "CorrectShipment", "ShipmentCancelled",  # 54-58
            "ShipOrder",  # 59
            "IssueRefund",  # 60
            "InventoryReserved", "InventoryReleased",  # 61-62
            "ChangeOrder",  # 63
        ),
        start=1,
    )
}

# Schemas other schemas refer to by name: parsed before the rest.
SHARED_SCHEMAS: tuple[str, ...] = (
    f"{NAMESPACE}.Address", f"{NAMESPACE}.OrderSummary", f"{NAMESPACE}.UpdateCustomer", f"{NAMESPACE}.Reservation")


def _schemas(*names: str) -> tuple[str, ...]:
    return tuple(f"{NAMESPACE}.{n}" for n in names)


@dataclass(frozen=True)
class TopicSpec:
    """One Kafka topic.

    ``partitions`` None means the deployment's default partition count, so
    topics that are joined by key stay co-partitioned.
    """

    name: str
    key: str
    value_schemas: tuple[str, ...]
    writer: str  # the id of the one component of orderflow that writes it (see COMPONENTS)
    # The components that consume it (the operator's tools read every topic);
    # a secured cluster's ACLs let only their principals read it.
    readers: tuple[str, ...] = ()
    partitions: int | None = None
    compacted: bool = False
    json_ingress: bool = False
    windowed: bool = False  # a windowed table's changelog: compacted and expiring
    external: str = ""  # who else may produce to it, outside orderflow (an ingress topic's sources)
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
    writer: str  # the id of the agent that writes it (see AGENTS)
    source_topic: str
    windowed: bool = False
    # Rows kept in another table's store and changelog (their keys never
    # collide): one changelog partition then orders their writes.
    stored_in: str | None = None
    doc: str = ""

    @property
    def store(self) -> str:
        """The table whose store and changelog hold these rows."""
        return self.stored_in or self.name


ORDER_COMMANDS = TopicSpec(
    name="orders.commands",
    key="orderId",
    value_schemas=_schemas("PlaceOrder", "CancelOrder", "ChangeOrder"),
    writer=GATEWAY,
    readers=(PROCESS_ORDERS,),
    external="any producer of orders",
    json_ingress=True,
    doc="Ingress: commands for an order.",
)
ORDER_TIMEOUTS = TopicSpec(
    name="orders.timeouts",
    key="orderId",
    value_schemas=_schemas("ExpireOrder"),
    writer=EXPIRE_UNPAID_ORDERS,
    readers=(PROCESS_ORDERS,),
    doc="The timer's requests to expire orders still awaiting payment.",
)
STOCK_REQUESTS = TopicSpec(
    name="stock.requests",
    key="productId",
    value_schemas=_schemas("ReserveLine", "ReleaseLine", "SellLine"),
    writer=PROCESS_ORDERS,
    readers=(MANAGE_STOCK,),
    doc="Order lines re-keyed to the partition that owns the product's stock.",
)
STOCK_RESULTS = TopicSpec(
    name="stock.results",
    key="orderId",
    value_schemas=_schemas("LineResult"),
    writer=MANAGE_STOCK,
    readers=(PROCESS_ORDERS,),
    doc="What the stock agent did with each line, back to the order's partition.",
)
INVENTORY_ADJUSTMENTS = TopicSpec(
    name="inventory.adjustments",
    key="productId",
    value_schemas=_schemas("Restocked", "Adjusted", "StockSet", "LowStockThresholdSet"),
    writer=GATEWAY,
    readers=(MANAGE_STOCK,),
    external="warehouses",
    json_ingress=True,
    doc="Ingress: stock changes from warehouses.",
)
PRICES = TopicSpec(
    name="prices",
    key="productId",
    value_schemas=_schemas("PriceUpdated"),
    writer=GATEWAY,
    readers=(SET_PRICES,),
    external="a pricing service",
    json_ingress=True,
    doc="Ingress: price changes.",
)
INVENTORY_EVENTS = TopicSpec(
    name="inventory.events",
    key="productId",
    value_schemas=_schemas("LowStock", "OutOfStock", "BackInStock", "StockShortage", "InventoryReserved",
                           "InventoryReleased"),
    writer=MANAGE_STOCK,
    doc="Stock level crossings, once per crossing, and shortage alerts; each order line's units reserved and "
        "released.",
)
PAYMENT_REQUESTS = TopicSpec(
    name="payments.requests",
    key="orderId",
    value_schemas=_schemas("RequestPayment", "RefundPayment"),
    writer=PROCESS_ORDERS,
    readers=(PROCESS_PAYMENTS,),
    doc="What the order saga asks of the payment agent.",
)
PAYMENT_REFUNDS = TopicSpec(
    name="payments.refunds",
    key="orderId",
    value_schemas=_schemas("IssueRefund"),
    writer=GATEWAY,
    readers=(PROCESS_PAYMENTS,),
    doc="Operators' refunds of captured payments, in full or in part (POST /payments/{id}/refund).",
)
PAYMENT_EVENTS = TopicSpec(
    name="payments.events",
    key="orderId",
    value_schemas=_schemas("PaymentAuthorized", "PaymentCompleted", "PaymentFailed", "PaymentRefunded"),
    writer=PROCESS_PAYMENTS,
    readers=(PROCESS_ORDERS,),
    external="another payment service",
    json_ingress=True,
    doc="Payment lifecycle events.",
)
SHIPMENT_EVENTS = TopicSpec(
    name="shipments.events",
    key="orderId",
    value_schemas=_schemas("Shipped", "Delivered", "ShipmentCancelled"),
    writer=DELIVER_ORDERS,
    readers=(PROCESS_ORDERS,),
    external="another delivery service",
    json_ingress=True,
    doc="Delivery lifecycle events: the goods left, arrived, or were stopped before they left.",
)
SHIPMENT_REQUESTS = TopicSpec(
    name="shipments.requests",
    key="orderId",
    value_schemas=_schemas("ShipOrder", "CancelShipment"),
    writer=PROCESS_ORDERS,
    readers=(DELIVER_ORDERS,),
    doc="What the order saga asks of the delivery service: ship a confirmed order, or stop its shipment.",
)
SHIPMENT_PROGRESS = TopicSpec(
    name="shipments.progress",
    key="orderId",
    value_schemas=_schemas("CarrierProgress"),
    writer=TRACK_SHIPMENTS,
    readers=(DELIVER_ORDERS,),
    doc="Each shipment's progress as the carrier reports it, for the agent that owns the shipment's row.",
)
SHIPMENT_CORRECTIONS = TopicSpec(
    name="shipments.corrections",
    key="orderId",
    value_schemas=_schemas("CorrectShipment"),
    writer=GATEWAY,
    readers=(DELIVER_ORDERS,),
    doc="Operators' manual corrections of a shipment (the admin route), checked like the carrier's reports.",
)
ORDER_EVENTS = TopicSpec(
    name="orders.events",
    key="orderId",
    value_schemas=_schemas("OrderCreated", "OrderStatusChanged", "OrderCancelled"),
    writer=PROCESS_ORDERS,
    doc="Every order status change, in order per order.",
)
ORDERS_BY_CUSTOMER = TopicSpec(
    name="orders.by-customer",
    key="customerId",
    value_schemas=_schemas("OrderSummary"),
    writer=PROCESS_ORDERS,
    readers=(MANAGE_CUSTOMERS,),
    doc="Order summaries re-keyed by customer, for the customer's order list.",
)
CUSTOMER_COMMANDS = TopicSpec(
    name="customers.commands",
    key="customerId",
    value_schemas=_schemas("CreateCustomer", "UpdateCustomer"),
    writer=GATEWAY,
    readers=(MANAGE_CUSTOMERS,),
    json_ingress=True,
    doc="Ingress: register or change a customer.",
)
EMAIL_CLAIMS = TopicSpec(
    name="customers.email-claims",
    key="email",
    value_schemas=_schemas("ClaimEmail", "ReleaseEmail"),
    writer=MANAGE_CUSTOMERS,
    readers=(OWN_EMAILS,),
    doc="Email addresses claimed and released, keyed by the address so each has one owner.",
)
EMAIL_CLAIM_RESULTS = TopicSpec(
    name="customers.email-results",
    key="customerId",
    value_schemas=_schemas("EmailClaimResult"),
    writer=OWN_EMAILS,
    readers=(MANAGE_CUSTOMERS,),
    doc="Whether each claim was granted, back to the customer's partition.",
)
CUSTOMER_EVENTS = TopicSpec(
    name="customer.events",
    key="customerId",
    value_schemas=_schemas("CustomerCreated", "CustomerUpdated"),
    writer=MANAGE_CUSTOMERS,
    doc="Customer lifecycle events.",
)
CUSTOMER_CHECKS = TopicSpec(
    name="customers.checks",
    key="customerId",
    value_schemas=_schemas("CheckCustomer"),
    writer=PROCESS_ORDERS,
    readers=(MANAGE_CUSTOMERS,),
    doc="Orders re-keyed by customer for the customer and velocity checks.",
)
CUSTOMER_CHECK_RESULTS = TopicSpec(
    name="customers.check-results",
    key="orderId",
    value_schemas=_schemas("CustomerCheckResult"),
    writer=MANAGE_CUSTOMERS,
    readers=(PROCESS_ORDERS,),
    doc="Each order's customer check, back to the order's partition.",
)
NOTIFICATIONS = TopicSpec(
    name="notifications",
    key="customerId",
    value_schemas=_schemas("Notification"),
    writer=MANAGE_CUSTOMERS,
    readers=(SEND_NOTIFICATIONS,),
    doc="One notification per customer-facing order transition.",
)
DEAD_LETTERS = TopicSpec(
    name="deadletters",
    key="the original key",
    value_schemas=(),
    writer=EVERY_AGENT,
    doc="Messages no agent could handle: original bytes, the reason and source in headers.",
)
API_KEYS = TopicSpec(
    name="auth.api-keys",
    key="keyId",
    value_schemas=_schemas("ApiKey"),
    writer=OPERATOR_TOOLS,
    readers=(GATEWAY,),
    partitions=1,  # a few hundred small rows, read whole by every gateway
    compacted=True,
    doc="The API keys the operator issued and revoked (hashed); every gateway reads it whole.",
)

TOPICS: tuple[TopicSpec, ...] = (
    ORDER_COMMANDS, ORDER_TIMEOUTS, STOCK_REQUESTS, STOCK_RESULTS, INVENTORY_ADJUSTMENTS, INVENTORY_EVENTS, PRICES,
    PAYMENT_REQUESTS, PAYMENT_REFUNDS, PAYMENT_EVENTS, SHIPMENT_EVENTS, SHIPMENT_REQUESTS, SHIPMENT_PROGRESS,
    SHIPMENT_CORRECTIONS,
    ORDER_EVENTS, ORDERS_BY_CUSTOMER,
    CUSTOMER_COMMANDS, EMAIL_CLAIMS, EMAIL_CLAIM_RESULTS, CUSTOMER_EVENTS, CUSTOMER_CHECKS, CUSTOMER_CHECK_RESULTS,
    NOTIFICATIONS, DEAD_LETTERS, API_KEYS,
)

# The benchmark's own topic (``orderflow bench ceilings``): not part of a
# deployment, so not in TOPICS; the harness creates it when it measures.
BENCH_EVENTS = TopicSpec(
    name="bench.events",
    key="any",
    value_schemas=_schemas("PlaceOrder"),
    writer=BENCH,
    readers=(BENCH,),
    doc="Records of the pipeline's size that the ceiling measurements read back.",
)
BENCH_TOPICS: tuple[TopicSpec, ...] = (BENCH_EVENTS,)

ORDERS_TABLE = TableSpec(
    name="orders",
    key="orderId",
    value_schema=f"{NAMESPACE}.OrderState",
    writer=PROCESS_ORDERS,
    source_topic=ORDER_COMMANDS.name,
    doc="Every order as tracking reads show it.",
)
PENDING_PAYMENTS_TABLE = TableSpec(
    name="pending-payments",
    key="orderId",
    value_schema=f"{NAMESPACE}.PendingPayment",
    writer=PROCESS_ORDERS,
    source_topic=ORDER_COMMANDS.name,
    doc="Orders awaiting payment and their deadline; the timeout timer scans it.",
)
STOCK_TABLE = TableSpec(
    name="stock",
    key="productId",
    value_schema=f"{NAMESPACE}.StockLevel",
    writer=MANAGE_STOCK,
    source_topic=STOCK_REQUESTS.name,
    doc="On hand and reserved per product.",
)
PRICES_TABLE = TableSpec(
    name="prices",
    key="productId",
    value_schema=f"{NAMESPACE}.ProductPrice",
    writer=SET_PRICES,
    source_topic=PRICES.name,
    doc="Current price per product, co-partitioned with stock: the stage that reserves a line stamps it.",
)
RESERVATIONS_TABLE = TableSpec(
    name="reservations",
    key="productId/orderId/line",
    value_schema=f"{NAMESPACE}.Reservation",
    writer=MANAGE_STOCK,
    source_topic=STOCK_REQUESTS.name,
    # In the stock table's changelog, each written before the stock row that
    # counts it: a stock row in the changelog never counts a change it lacks.
    stored_in="stock",
    doc="Each order line's reservation at its product; makes reserve, release and sell idempotent.",
)
PAYMENTS_TABLE = TableSpec(
    name="payments",
    key="orderId",
    value_schema=f"{NAMESPACE}.PaymentState",
    writer=PROCESS_PAYMENTS,
    source_topic=PAYMENT_REQUESTS.name,
    doc="Each order's payment at the provider; makes charge and refund idempotent.",
)
CUSTOMER_ORDERS_TABLE = TableSpec(
    name="customer-orders",
    key="customerId",
    value_schema=f"{NAMESPACE}.CustomerOrders",
    writer=MANAGE_CUSTOMERS,
    source_topic=ORDERS_BY_CUSTOMER.name,
    doc="Each customer's orders as one list, as written before the entries below (read, no longer written).",
)
CUSTOMER_ORDER_ENTRIES_TABLE = TableSpec(
    name="customer-order-entries",
    key="customerId/createdAt/orderId",
    value_schema=f"{NAMESPACE}.OrderSummary",
    writer=MANAGE_CUSTOMERS,
    source_topic=ORDERS_BY_CUSTOMER.name,
    # One small row per order, in the customer's partition of the list's store:
    # a summary rewrites its own entry, not a list that grows with the history.
    stored_in="customer-orders",
    doc="Each customer's orders, one entry each, for the paginated order list.",
)

CUSTOMERS_TABLE = TableSpec(
    name="customers",
    key="customerId",
    value_schema=f"{NAMESPACE}.CustomerState",
    writer=MANAGE_CUSTOMERS,
    source_topic=CUSTOMER_COMMANDS.name,
    doc="Every customer.",
)
EMAIL_OWNERS_TABLE = TableSpec(
    name="email-owners",
    key="email",
    value_schema=f"{NAMESPACE}.EmailOwner",
    writer=OWN_EMAILS,
    source_topic=EMAIL_CLAIMS.name,
    doc="Which customer holds each email address; makes addresses unique.",
)
CUSTOMER_CHECKS_TABLE = TableSpec(
    name="customer-checks",
    key="customerId/orderId",
    value_schema=f"{NAMESPACE}.CustomerCheck",
    writer=MANAGE_CUSTOMERS,
    source_topic=CUSTOMER_CHECKS.name,
    doc="Each order's customer check, so a replay decides the same and counts once.",
)
VELOCITY_TABLE = TableSpec(
    name="velocity",
    key="customerId (windowed)",
    value_schema=f"{NAMESPACE}.VelocityWindow",
    writer=MANAGE_CUSTOMERS,
    source_topic=CUSTOMER_CHECKS.name,
    windowed=True,
    doc="Orders and amount per customer per tumbling window (a Faust windowed table).",
)
NOTIFICATIONS_SENT_TABLE = TableSpec(
    name="notifications-sent",
    key="customerId/orderId/status",
    value_schema=f"{NAMESPACE}.NotificationSent",
    writer=MANAGE_CUSTOMERS,
    source_topic=ORDERS_BY_CUSTOMER.name,
    doc="Notifications already written, so a replay writes none twice.",
)
NOTIFICATIONS_DELIVERED_TABLE = TableSpec(
    name="notifications-delivered",
    key="notificationId",
    value_schema=f"{NAMESPACE}.NotificationDelivered",
    writer=SEND_NOTIFICATIONS,
    source_topic=NOTIFICATIONS.name,
    doc="Notifications the mail server accepted, so a replay sends none twice.",
)
SHIPMENTS_TABLE = TableSpec(
    name="shipments",
    key="orderId",
    value_schema=f"{NAMESPACE}.ShipmentState",
    writer=DELIVER_ORDERS,
    source_topic=SHIPMENT_REQUESTS.name,
    doc="Each confirmed order's shipment at the carrier, with its history; makes booking and cancel idempotent.",
)

TABLES: tuple[TableSpec, ...] = (
    ORDERS_TABLE, PENDING_PAYMENTS_TABLE, STOCK_TABLE, RESERVATIONS_TABLE, PRICES_TABLE, PAYMENTS_TABLE,
    CUSTOMER_ORDERS_TABLE, CUSTOMER_ORDER_ENTRIES_TABLE, CUSTOMERS_TABLE, EMAIL_OWNERS_TABLE, CUSTOMER_CHECKS_TABLE,
    VELOCITY_TABLE, NOTIFICATIONS_SENT_TABLE, NOTIFICATIONS_DELIVERED_TABLE, SHIPMENTS_TABLE,
)


def rows_of(store: TableSpec) -> tuple[TableSpec, ...]:
    """The table and every table whose rows it stores, itself first."""
    return (store,) + tuple(t for t in TABLES if t.stored_in == store.name)


def changelog_topic(app_id: str, table_name: str) -> str:
    """The changelog topic Faust uses for a table of app ``app_id``."""
    return f"{app_id}-{table_name}-changelog"


class WrongWriter(RuntimeError):
    """A component wrote to a topic the catalog gives to another one (a bug)."""


def may_write(component: str | None, spec: TopicSpec) -> bool:
    """Whether ``component`` is the writer of topic ``spec`` (any agent may
    write the dead letters)."""
    return spec.writer == component or (spec.writer == EVERY_AGENT and component in AGENTS)


def check_writer(component: str | None, spec: TopicSpec) -> None:
    """WrongWriter unless ``component`` may write ``spec``."""
    if not may_write(component, spec):
        raise WrongWriter(f"{component} may not write {spec.name}: its writer is {spec.writer}")


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


def _changelog(app_id: str, store: TableSpec) -> TopicSpec:
    """The changelog topic of one table store, with the rows it holds."""
    rows = rows_of(store)
    also = f" (also the rows of {', '.join(repr(r.name) for r in rows[1:])})" if len(rows) > 1 else ""
    return TopicSpec(
        name=changelog_topic(app_id, store.name),
        key=" or ".join(r.key for r in rows),
        value_schemas=tuple(r.value_schema for r in rows),
        writer=store.writer,
        readers=(store.writer,),  # its worker restores from it, a standby follows it
        partitions=topic(store.source_topic).partitions,
        compacted=True,
        windowed=store.windowed,
        doc=f"Changelog of table {store.name!r}{also}.",
    )


def all_topics(app_id: str) -> tuple[TopicSpec, ...]:
    """Every topic the deployment needs, changelogs included, for creation."""
    changelogs = tuple(_changelog(app_id, t) for t in TABLES if t.stored_in is None)
    # Faust subscribes every worker to this topic to elect a leader; it carries no data.
    leader = TopicSpec(
        name=f"{app_id}-__assignor-__leader",
        key="none",
        value_schemas=(),
        writer=FAUST,
        readers=(FAUST,),
        partitions=1,
        doc="Faust-internal leader election.",
    )
    return TOPICS + changelogs + (leader,)
