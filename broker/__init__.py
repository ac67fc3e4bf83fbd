"""The Kafka broker orderflow runs on when no external cluster is configured.

:func:`kafka_version` and :func:`ensure_jars` provide the runtime pinned by the
packaged ``pom.xml``; :class:`LocalKafka` runs a local KRaft cluster from it.
"""

from orderflow.broker.launcher import BrokerSecurity, KafkaStartError, LocalKafka
from orderflow.broker.runtime import KafkaRuntimeError, ensure_jars, kafka_version

__all__ = ["BrokerSecurity", "KafkaRuntimeError", "KafkaStartError", "LocalKafka", "ensure_jars", "kafka_version"]
