"""docker-compose.yml and the Dockerfile cannot run on a machine without a
Docker engine; these tests check what can be checked without one: the compose
file parses, runs the pinned Kafka version, and sets only real settings."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from orderflow.broker import kafka_version
from orderflow.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_the_kafka_version_the_pom_pins() -> None:
    image = compose()["services"]["kafka"]["image"]
    assert image == f"apache/kafka:{kafka_version()}"


def test_compose_has_broker_topic_init_worker_and_gateway() -> None:
    services = compose()["services"]
    assert {"kafka", "topic-init", "worker", "gateway"} <= set(services)
    assert services["topic-init"]["command"] == ["topics"]
    assert services["worker"]["depends_on"]["topic-init"]["condition"] == "service_completed_successfully"
    assert "8080:8080" in services["gateway"]["ports"]


def test_compose_sets_only_existing_settings() -> None:
    fields = set(Settings.model_fields)
    for name, service in compose()["services"].items():
        for key in (service.get("environment") or {}):
            if key.startswith("ORDERFLOW_"):
                assert key.removeprefix("ORDERFLOW_").lower() in fields, (name, key)


def test_worker_may_scale_without_fixed_container_names_or_host_ports() -> None:
    worker = compose()["services"]["worker"]
    assert "container_name" not in worker and "ports" not in worker


def test_dockerfile_copies_every_package_folder() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    folders = set(pyproject["tool"]["setuptools"]["package-dir"].values())
    copied = set(re.findall(r"^COPY (\S+) \1$", (ROOT / "Dockerfile").read_text(), re.M))
    assert folders <= copied, folders - copied
