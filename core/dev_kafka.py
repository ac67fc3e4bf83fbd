"""The local stack's secured Kafka: its SCRAM users' passwords and the nodes'
certificate, kept in the run directory, and the settings each process of the
stack connects with.

Owns ``<run_dir>/auth/kafka/<user>`` (one random password per principal of
``orderflow.kafka_acls`` and the admin, mode 0600, made once),
``auth/kafka/broker-jaas.conf`` (the brokers' login as the admin, for
docker-compose) and the nodes' certificate ``tls/kafka-node.pem`` (for
127.0.0.1, localhost and compose's ``kafka``), signed by the local CA of
``orderflow.certs``, with its key in ``tls/kafka-node-keystore.pem``.
Consumed by ``orderflow dev``, ``orderflow broker``, the benchmark's own
stack and the tests that start a secured broker; a deployment brings its own
users, certificates and ACLs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from orderflow.certs import CA_NAME, ensure_server_cert, write_private
from orderflow.kafka_acls import ADMIN, PRINCIPALS
from orderflow.kafka_client import KafkaClient
from orderflow.settings import Settings
from orderflow.signing import ensure_secret

if TYPE_CHECKING:
    from orderflow.broker import BrokerSecurity

__all__ = ["NODE_NAME", "broker_security", "client_as", "password_file", "settings_as", "uses_dev_kafka_users"]

NODE_NAME = "kafka-node"  # the nodes' certificate names them; the brokers treat it as a super user
USERS = (ADMIN, *PRINCIPALS)
NODE_HOSTS = ["127.0.0.1", "localhost", "kafka"]  # kafka: the broker's name in docker-compose.yml


def tls_dir(settings: Settings) -> Path:
    return settings.run_dir / "tls"


def password_file(settings: Settings, user: str) -> Path:
    """The file holding ``user``'s password, made if absent."""
    return ensure_secret(settings.dev_key_dir / "kafka" / user)


def broker_security(settings: Settings, addresses: tuple[str, ...] = ()) -> BrokerSecurity:
    """The local broker's users, certificate and CA (made on first use); the certificate is also
    for ``addresses`` (nodes on hosts of their own)."""
    from orderflow.broker import BrokerSecurity

    node = ensure_server_cert(tls_dir(settings), NODE_NAME, [*NODE_HOSTS, *addresses], common_name=NODE_NAME,
                              client_auth=True)
    keystore = tls_dir(settings) / f"{NODE_NAME}-keystore.pem"
    write_private(keystore, node.key_file.read_text() + node.cert_file.read_text())
    users = {user: password_file(settings, user).read_text().strip() for user in USERS}
    write_private(settings.dev_key_dir / "kafka" / "broker-jaas.conf",
                   "KafkaServer {\n  org.apache.kafka.common.security.scram.ScramLoginModule required\n"
                   f'  username="{ADMIN}" password="{users[ADMIN]}";\n}};\n')
    return BrokerSecurity(ca_file=tls_dir(settings) / CA_NAME, keystore=keystore, users=users, admin=ADMIN,
                          node_name=NODE_NAME)



def settings_as(settings: Settings, user: str, servers: str | None = None) -> Settings:
    """``settings`` for a process connecting to the local secured broker as ``user``."""
    return settings.model_copy(update={
        "bootstrap_servers": servers or settings.kafka_servers, "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-512", "kafka_username": user, "kafka_password": SecretStr(""),
        "kafka_password_file": password_file(settings, user), "kafka_ca_file": tls_dir(settings) / CA_NAME})


def client_as(settings: Settings, user: str, servers: str | None = None) -> KafkaClient:
    """The connection of ``user`` to the local secured broker."""
    return settings_as(settings, user, servers).kafka


def uses_dev_kafka_users(settings: Settings, servers: str | None = None) -> bool:
    """A command run from a shell beside ``orderflow dev``: no Kafka credentials configured,
    the local broker (or ``servers`` naming it) secured, and its users made."""
    local = f"127.0.0.1:{settings.broker_port}"
    return ((servers == local if servers is not None else settings.uses_local_broker)
            and settings.local_kafka_security and settings.kafka_security_protocol == "PLAINTEXT"
            and (settings.dev_key_dir / "kafka" / ADMIN).exists())
