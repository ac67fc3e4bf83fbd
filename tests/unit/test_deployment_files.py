"""docker-compose.yml and the Dockerfile cannot run on a machine without a
Docker engine; these tests check what can be checked without one: the compose
file parses, runs the pinned Kafka version, and sets only real settings; the
image carries the service's packages and none of the development tools."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import yaml

from orderflow.broker import kafka_version
from orderflow.observability import DASHBOARD_FILE, GATEWAY_JOB, PAYMENT_JOB, WORKER_JOB
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


def test_the_compose_gateway_verifies_tokens_with_a_public_key_only() -> None:
    gateway = compose()["services"]["gateway"]
    key_file = gateway["environment"]["ORDERFLOW_AUTH_PUBLIC_KEY_FILE"]
    assert gateway["environment"].get("ORDERFLOW_AUTH_ENABLED", "true") != "false"
    mounts = [v.split(":") for v in gateway["volumes"]]
    assert [(host, inside, mode) for host, inside, mode in mounts if inside == key_file] == [
        ("./run/auth/signing-key.pub.pem", key_file, "ro")]


def test_worker_may_scale_without_fixed_container_names_or_host_ports() -> None:
    worker = compose()["services"]["worker"]
    assert "container_name" not in worker and "ports" not in worker


def package_folders(project: Path) -> set[str]:
    """The repository folders a pyproject.toml builds packages from."""
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    return {(project / folder).resolve().relative_to(ROOT).as_posix()
            for folder in pyproject["tool"]["setuptools"]["package-dir"].values()}


def copied_by_dockerfile() -> set[str]:
    """Everything the Dockerfile's COPY lines bring into the image."""
    copied: set[str] = set()
    for line in re.findall(r"^COPY (.+)$", (ROOT / "Dockerfile").read_text(), re.M):
        copied.update(part.rstrip("/") for part in line.split()[:-1])
    return copied


def test_dockerfile_copies_every_package_folder_of_the_service() -> None:
    service, copied = package_folders(ROOT), copied_by_dockerfile()
    assert service <= copied, service - copied


def test_the_image_carries_no_development_tool() -> None:
    devtools = package_folders(ROOT / "devtools")
    assert devtools == {"bench", "broker", "simulator"}
    assert not copied_by_dockerfile() & (devtools | {"devtools", "."})
    installs = re.findall(r"pip install (.+?)(?:&&|$)", (ROOT / "Dockerfile").read_text(), re.M)
    assert installs == ["--no-cache-dir -c constraints.txt . "], installs  # the service alone, no extra


def test_each_package_folder_belongs_to_exactly_one_distribution() -> None:
    service, devtools = package_folders(ROOT), package_folders(ROOT / "devtools")
    folders = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert not service & devtools
    assert folders == service | devtools, folders ^ (service | devtools)


def test_compose_secures_kafka_with_a_scram_user_per_principal_and_the_catalog_s_acls() -> None:
    from orderflow.dev_kafka import USERS
    from orderflow.kafka_acls import ADMIN, GATEWAY, WORKER

    services = compose()["services"]
    kafka = services["kafka"]["environment"]
    assert kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"] == "CLIENT:SASL_SSL,CONTROLLER:SSL"
    assert kafka["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert kafka["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    formatted = re.findall(r"\$\$\(user (\w+)\)", services["kafka-format"]["command"][0])
    assert set(formatted) == set(USERS)
    assert services["acl-init"]["command"] == ["kafka-acls", "--apply"]
    # each orderflow process logs in as its own principal, with its password from a secret
    for name, user in (("topic-init", ADMIN), ("acl-init", ADMIN), ("worker", WORKER), ("gateway", GATEWAY)):
        env = services[name]["environment"]
        assert env["ORDERFLOW_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert env["ORDERFLOW_KAFKA_USERNAME"] == user
        assert env["ORDERFLOW_KAFKA_PASSWORD_FILE"] == f"/run/secrets/kafka_{user}"
        assert f"kafka_{user}" in services[name]["secrets"]
    declared = compose()["secrets"]
    assert {f"kafka_{u}" for u in USERS} <= set(declared)
    assert all(declared[f"kafka_{u}"]["file"] == f"./run/auth/kafka/{u}" for u in USERS)


def test_compose_runs_prometheus_alertmanager_and_grafana_with_the_shipped_files() -> None:
    services = compose()["services"]
    assert {"prometheus", "alertmanager", "grafana"} <= set(services)
    mounted = {inside: host for name in ("prometheus", "alertmanager", "grafana")
               for host, inside, _mode in (v.split(":") for v in services[name]["volumes"])}
    assert all((ROOT / host).exists() for host in mounted.values()), mounted
    assert mounted["/etc/prometheus/alerts.yml"] == "./core/prometheus/alerts.yml"
    prometheus = yaml.safe_load((ROOT / mounted["/etc/prometheus/prometheus.yml"]).read_text())
    assert prometheus["rule_files"] == ["/etc/prometheus/alerts.yml"]
    # the rules match on the jobs orderflow dev --observe names too
    assert {job["job_name"] for job in prometheus["scrape_configs"]} == {WORKER_JOB, GATEWAY_JOB, PAYMENT_JOB}
    grafana = services["grafana"]["volumes"]
    assert "./core/grafana/orderflow-dashboard.json:/var/lib/grafana/dashboards/orderflow.json:ro" in grafana


def test_the_dashboards_panels_read_the_provisioned_datasource() -> None:
    datasource = yaml.safe_load((ROOT / "core/grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    dashboard = json.loads(DASHBOARD_FILE.read_text())
    assert {target["datasource"]["uid"] for panel in dashboard["panels"] for target in panel["targets"]} == {uid}
    assert len({panel["title"] for panel in dashboard["panels"]}) == len(dashboard["panels"])


def test_compose_sends_every_process_traces_to_jaeger_and_logs_json() -> None:
    services = compose()["services"]
    assert "jaeger" in services
    for name in ("worker", "gateway"):
        environment = services[name]["environment"]
        assert environment["ORDERFLOW_OTLP_ENDPOINT"] == "http://jaeger:4318"
        assert environment["ORDERFLOW_LOG_FORMAT"] == "json"
