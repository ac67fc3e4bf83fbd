"""Importing orderflow is cheap and clean: no bare ``tables``/``agents`` modules, no
network at import, and the pure logic in tables/ stays free of Kafka and HTTP."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ENTRY_MODULES = ("orderflow.agents.app", "orderflow.gateway.app", "orderflow.cli")
IO_LIBRARIES = ("faust", "aiokafka", "aiohttp", "confluent_kafka")

# Runs in a fresh interpreter (-P: the working directory is not on sys.path).
PROBE = """
import importlib, json, socket, sys
def refuse(*args, **kwargs):
    raise AssertionError(f"network use at import: {args!r}")
socket.socket.connect = socket.socket.connect_ex = refuse
socket.create_connection = socket.getaddrinfo = refuse
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted(sys.modules)))
"""


def imported_after(modules: tuple[str, ...], cwd: Path) -> set[str]:
    result = subprocess.run([sys.executable, "-P", "-c", PROBE, *modules], cwd=cwd,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


@pytest.fixture(scope="module")
def entry_modules_loaded(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    return imported_after(ENTRY_MODULES, tmp_path_factory.mktemp("cwd"))


def test_entry_points_import_without_opening_a_connection(entry_modules_loaded):
    assert set(ENTRY_MODULES) <= entry_modules_loaded


@pytest.mark.parametrize("bare", ["tables", "agents"])
def test_entry_points_leave_no_bare_top_level_module(entry_modules_loaded, bare):
    assert not {m for m in entry_modules_loaded if m == bare or m.startswith(f"{bare}.")}


def test_tables_modules_do_not_import_io_libraries_at_all(tmp_path):
    modules = tuple(f"orderflow.tables.{p.stem}" for p in sorted((REPO_ROOT / "tables").glob("*.py"))
                    if p.stem != "__init__")
    loaded = imported_after(("orderflow.tables", *modules), tmp_path)
    assert not {m.split(".")[0] for m in loaded} & set(IO_LIBRARIES)


def direct_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "tables").rglob("*.py")), ids=lambda p: p.name)
def test_tables_source_names_no_io_library(path):
    assert not direct_imports(path) & set(IO_LIBRARIES)


# `orderflow --help` in a fresh interpreter; HIDE entries are made unimportable
# first, as they are where orderflow-devtools is not installed.
HELP_PROBE = """
import json, sys
for name in sys.argv[2:]:
    sys.modules[name] = None
from orderflow.cli import main
try:
    main([sys.argv[1]], prog_name="orderflow")
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""
DEV_ONLY_LIBRARIES = ("orderflow.bench", "matplotlib", "hdrhistogram", "psutil")
DEV_COMMANDS = ("bench", "broker", "dev", "mail-sink", "payment-sim", "trace-sink")


def run_cli(argument: str, cwd: Path, hide: tuple[str, ...] = ()) -> tuple[int, set[str], str]:
    result = subprocess.run([sys.executable, "-P", "-c", HELP_PROBE, argument, *hide], cwd=cwd,
                            capture_output=True, text=True, timeout=120)
    *output, last = result.stdout.splitlines()
    probe = json.loads(last)
    return probe["code"], set(probe["modules"]), "\n".join(output) + result.stderr


def command_names(help_text: str) -> set[str]:
    listing = help_text.split("Commands:\n", 1)[1]
    return {line.split()[0] for line in listing.splitlines() if line.startswith("  ")}


def test_help_lists_the_bench_without_importing_it(tmp_path):
    code, loaded, text = run_cli("--help", tmp_path)
    assert code == 0, text
    assert set(DEV_COMMANDS) <= command_names(text)
    assert not {m for m in loaded if m.split(".")[0] in DEV_ONLY_LIBRARIES or m.startswith("orderflow.bench")}


def test_without_the_development_tools_help_shows_only_the_service(tmp_path):
    from orderflow.devcommands import PACKAGES

    code, _, text = run_cli("--help", tmp_path, hide=PACKAGES)
    assert code == 0, text
    assert command_names(text) == {"api-key", "dlq", "gateway", "kafka-acls", "status", "token", "topics", "worker"}


@pytest.mark.parametrize("command", DEV_COMMANDS)
def test_without_the_development_tools_a_dev_command_says_what_is_missing(tmp_path, command):
    from orderflow.devcommands import DISTRIBUTION, PACKAGES

    code, _, text = run_cli(command, tmp_path, hide=PACKAGES)
    assert code == 1 and DISTRIBUTION in text and f"'orderflow {command}'" in text, text
