"""Who may do what on a secured Kafka: the principals of orderflow and the
ACLs that follow from the topic catalog.

Consumes the catalog (each topic's writer, readers and external sources) and
an app id; produces ACL bindings and applies them with a super user's
AdminClient (``orderflow kafka-acls --apply``; the local stack does it at
start). Owns the mapping from components to principals:

- ``worker``: every agent and the payment-timeout timer; writes the topics
  and changelogs of those components, reads what its agents consume and its
  tables' changelogs, uses the consumer groups and transactional ids that
  start with the app id.
- ``gateway``: writes the topics whose writer is the gateway, reads the API keys.
- ``operator``: the operator's tools and the benchmark: reads every topic,
  writes its own topics and the topics a dead-letter replay sends back to.
- ``producer``: an external producer (a warehouse, a pricing service):
  writes only the ingress topics the catalog names external sources for.

Anything not granted is refused (``allow.everyone.if.no.acl.found=false``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from orderflow.kafka_client import KafkaClient
from orderflow.schemas import catalog

__all__ = ["ADMIN", "GATEWAY", "GATEWAY_GROUP_PREFIX", "OPERATOR", "PRINCIPALS", "PRODUCER", "WORKER", "Grant",
           "apply_acls", "grants", "principal_of", "topics_of"]

WORKER, GATEWAY, OPERATOR, PRODUCER = "worker", "gateway", "operator", "producer"
ADMIN = "admin"  # the cluster's super user: creates topics and ACLs, nothing else runs as it
PRINCIPALS = (WORKER, GATEWAY, OPERATOR, PRODUCER)

_WORKER_COMPONENTS = catalog.AGENTS | {catalog.EXPIRE_UNPAID_ORDERS, catalog.TRACK_SHIPMENTS, catalog.EVERY_AGENT,
                                         catalog.FAUST}
_PRINCIPAL_OF = {component: WORKER for component in _WORKER_COMPONENTS} | {
    catalog.GATEWAY: GATEWAY, catalog.OPERATOR_TOOLS: OPERATOR, catalog.BENCH: OPERATOR}
# The gateway's API-key followers, the operator's tools and the benchmark name their groups so.
GATEWAY_GROUP_PREFIX = "orderflow-keys-"

Resource = Literal["topic", "group", "cluster", "transactional_id"]
Operation = Literal["READ", "WRITE", "DESCRIBE", "IDEMPOTENT_WRITE"]


@dataclass(frozen=True, order=True)
class Grant:
    """One ALLOW rule: ``principal`` may ``operation`` on the resource (a prefix when ``prefixed``)."""

    principal: str
    resource: Resource
    name: str
    operation: Operation
    prefixed: bool = False

    def __str__(self) -> str:
        pattern = f"{self.name}*" if self.prefixed else self.name
        return f"User:{self.principal} {self.operation} {self.resource} {pattern}"


def principal_of(component: str) -> str:
    """The principal a component connects as."""
    try:
        return _PRINCIPAL_OF[component]
    except KeyError:
        raise KeyError(f"no principal for component {component!r}") from None


def _topic_grants(app_id: str) -> Iterable[Grant]:
    topics = catalog.all_topics(app_id) + catalog.BENCH_TOPICS
    replayable = {reader for spec in topics for reader in spec.readers if reader in catalog.AGENTS}
    for spec in topics:
        yield Grant(principal_of(spec.writer), "topic", spec.name, "WRITE")
        for reader in sorted({principal_of(r) for r in spec.readers}):
            yield Grant(reader, "topic", spec.name, "READ")
        if spec.external:
            yield Grant(PRODUCER, "topic", spec.name, "WRITE")
        yield Grant(OPERATOR, "topic", spec.name, "READ")
        if replayable & set(spec.readers):  # a dead letter replayed goes back to its source topic
            yield Grant(OPERATOR, "topic", spec.name, "WRITE")


def grants(app_id: str) -> list[Grant]:
    """Every ACL of a deployment with this app id, sorted and without repeats."""
    rules = set(_topic_grants(app_id))
    rules |= {
        Grant(WORKER, "group", app_id, "READ", prefixed=True),  # Faust's group, the bulk restore's
        Grant(WORKER, "transactional_id", app_id, "WRITE", prefixed=True),  # if exactly_once is ever on
        Grant(GATEWAY, "group", GATEWAY_GROUP_PREFIX, "READ", prefixed=True),
        Grant(OPERATOR, "group", "*", "READ"),  # its tools and the benchmark's trackers read with groups of their own
    }
    # idempotent producers (acks=all, no duplicates on retry) ask for a producer id
    rules |= {Grant(p, "cluster", "kafka-cluster", "IDEMPOTENT_WRITE") for p in PRINCIPALS}
    rules |= {Grant(OPERATOR, "cluster", "kafka-cluster", "DESCRIBE")}
    return sorted(rules)


def topics_of(principal: str, app_id: str) -> tuple[catalog.TopicSpec, ...]:
    """The deployment's topics ``principal`` writes or reads (the operator's reads aside)."""
    return tuple(spec for spec in catalog.all_topics(app_id)
                 if principal_of(spec.writer) == principal or principal in {principal_of(r) for r in spec.readers})


def _binding(grant: Grant):  # -> AclBinding (confluent-kafka is imported only to apply)
    from confluent_kafka.admin import AclBinding, AclOperation, AclPermissionType, ResourcePatternType, ResourceType

    kinds = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP, "cluster": ResourceType.BROKER,
             "transactional_id": ResourceType.TRANSACTIONAL_ID}
    pattern = ResourcePatternType.PREFIXED if grant.prefixed else ResourcePatternType.LITERAL
    return AclBinding(kinds[grant.resource], grant.name, pattern, f"User:{grant.principal}", "*",
                      AclOperation[grant.operation], AclPermissionType.ALLOW)


def apply_acls(admin: KafkaClient, app_id: str, timeout_s: float = 30.0) -> int:
    """Create every grant (creating an existing one changes nothing) and wait until the
    brokers enforce them (they follow the metadata log a moment later); returns how many."""
    from confluent_kafka.admin import (
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        AdminClient,
        ResourcePatternType,
        ResourceType,
    )

    rules = grants(app_id)
    wanted = {_binding(g) for g in rules}
    client = AdminClient(admin.config())
    for future in client.create_acls(list(wanted), request_timeout=timeout_s).values():
        future.result()
    # None matches any name, principal and host (the stubs type them str only)
    every = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,  # type: ignore[arg-type]
                             AclOperation.ANY, AclPermissionType.ANY)
    deadline = time.monotonic() + timeout_s
    while not wanted <= set(client.describe_acls(every, request_timeout=timeout_s).result()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the brokers did not show the {len(wanted)} ACLs within {timeout_s:.0f} s")
        time.sleep(0.2)  # the broker answering describe_acls applies the metadata log on its own schedule
    return len(rules)
