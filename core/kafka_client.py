"""How a process of orderflow reaches Kafka: the bootstrap servers and, on a
secured cluster, its principal's credentials and the CA it trusts.

Consumes the settings (``Settings.kafka``); every Kafka client of the project
(the worker's Faust app, the confluent-kafka producers, consumers and admin
clients, the operator tools, the benchmark) takes its connection from here,
so credentials are spelled out once. The password is a ``SecretStr``: it
never appears in a repr, a log line or a settings dump.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr

__all__ = ["KafkaClient", "Protocol", "as_client"]

Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]


@dataclass(frozen=True)
class KafkaClient:
    """One principal's connection to one cluster (plain when ``protocol`` is PLAINTEXT)."""

    servers: str
    protocol: Protocol = "PLAINTEXT"
    mechanism: str = "SCRAM-SHA-512"
    username: str = ""
    password: SecretStr = field(default_factory=lambda: SecretStr(""), repr=False)
    ca_file: Path | None = None

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def config(self, **extra: Any) -> dict[str, Any]:
        """A confluent-kafka (librdkafka) configuration: these servers and credentials, then ``extra``."""
        config: dict[str, Any] = {"bootstrap.servers": self.servers, "security.protocol": self.protocol}
        if self.uses_sasl:
            config |= {"sasl.mechanisms": self.mechanism, "sasl.username": self.username,
                       "sasl.password": self.password.get_secret_value()}
        if self.uses_tls and self.ca_file is not None:
            config["ssl.ca.location"] = str(self.ca_file)
        return config | extra

    def ssl_context(self) -> ssl.SSLContext | None:
        """The verifying TLS context of aiokafka clients (None on a plain listener)."""
        if not self.uses_tls:
            return None
        from orderflow.certs import client_context

        return client_context(self.ca_file)

    def faust_credentials(self) -> Any:
        """Faust's ``broker_credentials`` (None on a plain listener)."""
        import faust

        if self.uses_sasl:
            return faust.SASLCredentials(username=self.username, password=self.password.get_secret_value(),
                                         mechanism=self.mechanism, ssl_context=self.ssl_context())
        if self.uses_tls:
            return faust.SSLCredentials(self.ssl_context())
        return None

    def as_servers(self, servers: str) -> KafkaClient:
        """The same principal on other bootstrap servers."""
        return KafkaClient(servers, self.protocol, self.mechanism, self.username, self.password, self.ca_file)

    def as_user(self, username: str, password: str) -> KafkaClient:
        """The same cluster as another principal."""
        return KafkaClient(self.servers, self.protocol, self.mechanism, username, SecretStr(password), self.ca_file)


def as_client(kafka: KafkaClient | str) -> KafkaClient:
    """A bootstrap string alone is a plain connection without credentials."""
    return kafka if isinstance(kafka, KafkaClient) else KafkaClient(kafka)

