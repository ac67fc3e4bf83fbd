"""Creates the catalog's topics on the broker (confluent-kafka AdminClient).

Consumes the catalog and the settings; owns nothing else. Existing topics are
checked, not altered: a partition count that differs from the catalog's is an
error, because co-partitioned topics and tables would silently split.
"""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from orderflow.schemas import catalog
from orderflow.settings import Settings

__all__ = ["TopicMismatch", "ensure_topics"]


class TopicMismatch(RuntimeError):
    """An existing topic does not match the catalog. Operator: recreate it with
    the catalog's partition count, or set ORDERFLOW_PARTITIONS to match."""


def _wanted(settings: Settings, specs: Iterable[catalog.TopicSpec]) -> dict[str, NewTopic]:
    wanted = {}
    for spec in specs:
        config = {"min.insync.replicas": str(settings.min_insync_replicas)}
        if spec.windowed:
            # old windows expire, as Faust's own windowed changelogs do
            config["cleanup.policy"] = "compact,delete"
            config["retention.ms"] = str(int(2 * settings.velocity_window_s * 1000))
        elif spec.compacted:
            config["cleanup.policy"] = "compact"
        wanted[spec.name] = NewTopic(
            spec.name,
            num_partitions=spec.partitions or settings.partitions,
            replication_factor=settings.replication_factor,
            config=config,
        )
    return wanted


def ensure_topics(settings: Settings, timeout: float = 30.0,
                  specs: Iterable[catalog.TopicSpec] | None = None) -> list[str]:
    """Create missing topics (the whole catalog's, or ``specs``); return the names created.

    On a secured cluster a principal sees only the topics it may use and
    creates none: a missing topic there is the operator's to create."""
    admin = AdminClient(settings.kafka.config())
    existing = admin.list_topics(timeout=timeout).topics
    wanted = _wanted(settings, catalog.all_topics(settings.app_id) if specs is None else specs)
    for name, new in wanted.items():
        have = existing.get(name)
        if have is not None and len(have.partitions) != new.num_partitions:
            raise TopicMismatch(
                f"topic {name} has {len(have.partitions)} partitions, the catalog wants {new.num_partitions}"
            )
    missing = [new for name, new in wanted.items() if name not in existing]
    if not missing:
        return []
    created = []
    for name, future in admin.create_topics(missing, operation_timeout=timeout).items():
        try:
            future.result()
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].name() == "TOPIC_AUTHORIZATION_FAILED":
                raise TopicMismatch(f"topic {name} is missing and {settings.kafka.username or 'this client'} may "
                                    "not create it: an admin creates the topics (`orderflow topics`)") from exc
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":  # a concurrent creator won
                raise
    return created


def catalog_markdown(settings: Settings) -> str:
    """The catalog as the markdown table the README shows."""
    rows = ["| topic | key | value schemas | partitions | writer | read by |", "|---|---|---|---|---|---|"]
    for spec in catalog.all_topics(settings.app_id):
        schemas = ", ".join(s.rsplit(".", 1)[-1] for s in spec.value_schemas) or "(none)"
        partitions = spec.partitions or f"{settings.partitions} (default)"
        writer = f"`{spec.writer}`" + (f" (also {spec.external})" if spec.external else "")
        readers = ", ".join(f"`{r}`" for r in spec.readers) or "(outside orderflow)"
        rows.append(f"| `{spec.name}` | {spec.key} | {schemas} | {partitions} | {writer} | {readers} |")
    return "\n".join(rows)
