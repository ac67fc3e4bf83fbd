"""The local broker's node configuration: a secured node finds its key store and CA whatever the run
directory was given as (`make dev` runs with the relative `run/`, each node in its own folder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orderflow.broker.launcher import BrokerSecurity, LocalKafka


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
