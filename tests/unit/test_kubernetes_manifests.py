"""deploy/kubernetes/ cannot be applied on a machine without a cluster; these tests check what can be
checked without one: every object is valid for the Kubernetes API (kubernetes-validate's bundled
schemas, strict: no unknown fields), sets only real settings, runs real commands, and wires the
workers as the design needs them (stable names, a volume each, probes, a disruption budget)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from orderflow.cli import main as cli
from orderflow.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))
KUBERNETES_VERSION = "1.30.0"


def objects() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def of_kind(kind: str, name: str) -> dict[str, Any]:
    [found] = [o for o in objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec", {}).get("template", {}).get("spec", {})
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


@pytest.mark.parametrize("obj", objects(), ids=lambda o: f"{o['kind']}/{o['metadata']['name']}")
def test_each_object_is_valid_for_the_kubernetes_api(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_every_setting_named_exists_in_the_settings_object() -> None:
    fields = set(Settings.model_fields)
    named = set(of_kind("ConfigMap", "orderflow-settings")["data"])
    for obj in objects():
        for container in containers(obj):
            named |= set(env_of(container))
    orderflow = {n for n in named if n.startswith("ORDERFLOW_")}
    assert orderflow and {n for n in orderflow if n.removeprefix("ORDERFLOW_").lower() not in fields} == set()


def test_every_container_runs_a_command_of_the_service() -> None:
    commands = set(cli.commands)
    for obj in objects():
        for container in containers(obj):
            assert container["args"][0] in commands, (obj["metadata"]["name"], container["args"])


def test_workers_keep_their_names_and_volumes_and_serve_probes_on_their_port() -> None:
    workers = of_kind("StatefulSet", "orderflow-worker")
    [worker] = containers(workers)
    env = env_of(worker)
    assert worker["args"] == ["worker"]
    assert env["ORDERFLOW_WORKER_INSTANCE_ID"] == "$(POD_NAME)"  # static membership: one name per pod
    assert env["ORDERFLOW_WORKER_HOST"].startswith(f"$(POD_NAME).{workers['spec']['serviceName']}.")
    [claim] = workers["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in worker["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == env["ORDERFLOW_DATA_DIR"]
    port = int(env["ORDERFLOW_WORKER_PORT"])
    assert [p["containerPort"] for p in worker["ports"]] == [port]
    assert (worker["readinessProbe"]["httpGet"]["path"], worker["livenessProbe"]["httpGet"]["path"]) == (
        "/readyz", "/healthz")
    assert of_kind("Service", workers["spec"]["serviceName"])["spec"]["clusterIP"] == "None"
    budget = of_kind("PodDisruptionBudget", "orderflow-worker")["spec"]
    assert (budget["maxUnavailable"], budget["selector"]) == (1, workers["spec"]["selector"])
    partitions = int(of_kind("ConfigMap", "orderflow-settings")["data"]["ORDERFLOW_PARTITIONS"])
    assert workers["spec"]["replicas"] <= partitions  # a worker beyond the partitions would sit idle


def test_the_gateway_reaches_every_worker_by_its_stable_name() -> None:
    workers = of_kind("StatefulSet", "orderflow-worker")
    [gateway] = containers(of_kind("Deployment", "orderflow-gateway"))
    urls = env_of(gateway)["ORDERFLOW_WORKER_URLS"].split(",")
    assert urls == [f"http://orderflow-worker-{i}.{workers['spec']['serviceName']}:6066"
                    for i in range(workers["spec"]["replicas"])]
    assert env_of(gateway)["ORDERFLOW_GATEWAY_INSTANCES"] == str(of_kind("Deployment", "orderflow-gateway")
                                                                 ["spec"]["replicas"])


def test_secret_files_the_settings_name_are_mounted_from_secrets() -> None:
    for obj in objects():
        volumes = {v["name"]: v for v in obj.get("spec", {}).get("template", {}).get("spec", {}).get("volumes", [])}
        for container in containers(obj):
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            for name, value in env_of(container).items():
                if name.endswith("_FILE"):
                    folder = str(Path(value).parent)
                    assert folder in mounts and "secret" in volumes[mounts[folder]], (name, value)


def test_the_topics_job_makes_topics_before_their_acls() -> None:
    spec = of_kind("Job", "orderflow-topics")["spec"]["template"]["spec"]
    assert [c["args"] for c in spec["initContainers"]] == [["topics"]]
    assert [c["args"] for c in spec["containers"]] == [["kafka-acls", "--apply"]]
