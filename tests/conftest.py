"""Shared fixtures.

``bootstrap_servers`` is lazy: only tests that request it get a broker, so unit
tests run without Java. ``ORDERFLOW_BOOTSTRAP_SERVERS`` points the suite at an
existing cluster instead of starting a local one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def bootstrap_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of the Kafka the tests run against."""
    external = os.environ.get("ORDERFLOW_BOOTSTRAP_SERVERS", "").strip()
    if external:
        yield external
        return
    from orderflow.broker import LocalKafka, ensure_jars

    # Data in this session's own temp dir, so parallel sessions never share it;
    # jars from the project's shared cache.
    kafka = LocalKafka(run_dir=tmp_path_factory.mktemp("kafka"), nodes=1, port=0,
                       lib_dir=ensure_jars(REPO_ROOT / "run"))
    kafka.start(fresh=True)
    try:
        yield kafka.bootstrap_servers
    finally:
        kafka.stop()
pytest_plugins = ["support.fixtures"]

# The multi-host test (three brokers, four workers on hosts of their own) is longer than CI allows on
# two cores: `make test-cluster` runs it, with this set.
CLUSTER_TEST = "ORDERFLOW_CLUSTER_TEST"
collect_ignore = [] if os.environ.get(CLUSTER_TEST) else ["cluster"]
