"""The Kafka runtime: which version orderflow runs, and its jars on disk.

This module owns the link between the packaged ``pom.xml`` (the one place the
Kafka version is pinned) and a local copy of the broker's runtime jars under
``<run_dir>/kafka/<version>/``:

    pom.xml      copy of the packaged pom that Maven resolved
    lib/         the runtime class path (kafka_2.13, kafka-tools, log4j binding, ...)
    .complete    stamp holding the digest of the pom that produced lib/

It also locates the ``java`` and ``mvn`` executables; a missing tool raises
:class:`KafkaRuntimeError` with a message saying what to install.
It does not start anything; see :mod:`orderflow.broker.launcher`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from functools import cache
from importlib import resources
from pathlib import Path

__all__ = [
    "KafkaRuntimeError",
    "ensure_jars",
    "java_executable",
    "kafka_version",
    "log4j_config",
    "pom_text",
]

_PACKAGE = "orderflow.broker"
_STAMP = ".complete"
_MVN_TIMEOUT_S = 900.0


class KafkaRuntimeError(RuntimeError):
    """The Kafka runtime cannot be provided (a tool is missing or Maven failed)."""


def pom_text() -> str:
    """The packaged ``pom.xml``."""
    return resources.files(_PACKAGE).joinpath("pom.xml").read_text(encoding="utf-8")


def log4j_config() -> str:
    """The packaged ``log4j2.properties`` for the broker JVMs."""
    return resources.files(_PACKAGE).joinpath("log4j2.properties").read_text(encoding="utf-8")


@cache
def kafka_version() -> str:
    """The Kafka version pinned by the ``kafka.version`` property of the packaged pom."""
    root = ET.fromstring(pom_text())  # noqa: S314 - the pom packaged with orderflow, not outside input
    node = root.find("{*}properties/{*}kafka.version")
    if node is None:
        node = root.find("properties/kafka.version")
    version = (node.text or "").strip() if node is not None else ""
    if not version:
        raise KafkaRuntimeError("the packaged pom.xml has no <kafka.version> property")
    return version


def java_executable() -> str:
    """``$JAVA_HOME/bin/java`` if set, else ``java`` from PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if candidate.is_file():
            return str(candidate)
    return _require_tool("java", "a Java 17+ runtime (e.g. apt-get install openjdk-17-jre-headless)")


def _require_tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise KafkaRuntimeError(f"`{name}` not found on PATH; the local Kafka broker needs {hint}")
    return path


def ensure_jars(run_dir: Path) -> Path:
    """Return ``<run_dir>/kafka/<version>/lib``, resolving it with Maven if not yet complete."""
    home = Path(run_dir).resolve() / "kafka" / kafka_version()
    lib = home / "lib"
    pom = pom_text()
    digest = hashlib.sha256(pom.encode("utf-8")).hexdigest()
    stamp = home / _STAMP
    if lib.is_dir() and stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == digest:
        return lib
    java_executable()
    mvn = _require_tool("mvn", "Apache Maven to download its jars (e.g. apt-get install maven)")
    home.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    (home / "pom.xml").write_text(pom, encoding="utf-8")
    staging = home / "lib.partial"
    shutil.rmtree(staging, ignore_errors=True)
    _copy_dependencies(mvn, home / "pom.xml", staging)
    shutil.rmtree(lib, ignore_errors=True)
    staging.rename(lib)
    stamp.write_text(digest + "\n", encoding="utf-8")
    return lib


def _copy_dependencies(mvn: str, pom: Path, out_dir: Path) -> None:
    cmd = [
        mvn, "-q", "-B", "dependency:copy-dependencies",
        f"-DoutputDirectory={out_dir}", "-DincludeScope=runtime", "-f", str(pom),
    ]
    try:
        done = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=_MVN_TIMEOUT_S
        )
    except subprocess.TimeoutExpired as exc:
        raise KafkaRuntimeError(f"mvn did not finish within {_MVN_TIMEOUT_S:.0f}s") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
        raise KafkaRuntimeError(f"mvn failed (exit {done.returncode}) resolving {pom}:\n{tail}")
    if not any(out_dir.glob("kafka_*.jar")):
        raise KafkaRuntimeError(f"mvn succeeded but left no Kafka jar in {out_dir}")
