"""The local broker's node configuration: a secured node finds its key store and CA whatever the run
directory was given as (`make dev` runs with the relative `run/`, each node in its own folder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orderflow.broker.launcher import BrokerSecurity, LocalKafka
from orderflow.processes import ProcessHost


def test_a_relative_run_directory_gives_the_nodes_absolute_tls_paths(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    security = BrokerSecurity(ca_file=Path("run/tls/ca.pem"), keystore=Path("run/tls/kafka-node-keystore.pem"),
                              users={"admin": "secret"})
    kafka = LocalKafka(Path("run/kafka"), security=security, lib_dir=tmp_path)
    [node] = kafka._nodes.values()
    config = kafka._listener_properties(node)
    for key in ("ssl.keystore.location", "ssl.truststore.location"):
        assert Path(str(config[key])).is_absolute(), (key, config[key])
    assert Path(str(config["ssl.keystore.location"])) == tmp_path / "run/tls/kafka-node-keystore.pem"


def test_nodes_on_hosts_of_their_own_listen_advertise_and_vote_at_their_hosts_addresses(tmp_path: Path) -> None:
    hosts = tuple(ProcessHost(f"10.77.0.{i}", ("ip", "netns", "exec", f"b{i}")) for i in (11, 12, 13))
    kafka = LocalKafka(tmp_path, nodes=3, hosts=hosts, lib_dir=tmp_path)
    assert kafka.bootstrap_servers == "10.77.0.11:9092,10.77.0.12:9092,10.77.0.13:9092"
    second = kafka._nodes[2]
    properties = kafka._server_properties(second)
    assert "listeners=PLAINTEXT://10.77.0.12:9092,CONTROLLER://10.77.0.12:9093\n" in properties
    assert "advertised.listeners=PLAINTEXT://10.77.0.12:9092\n" in properties
    assert "controller.quorum.voters=1@10.77.0.11:9093,2@10.77.0.12:9093,3@10.77.0.13:9093\n" in properties


def test_hosts_must_match_the_nodes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="3 nodes need 3 hosts"):
        LocalKafka(tmp_path, nodes=3, hosts=(ProcessHost("10.77.0.11"),), lib_dir=tmp_path)
