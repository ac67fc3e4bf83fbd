"""The shipped alert rules, checked and unit-tested by the real promtool: each
alert fires on the series that should fire it, only after its ``for``, and
stays quiet on healthy ones (``core/prometheus/alerts-test.yml``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from orderflow.observability import ALERTS_FILE, ALERTS_TEST_FILE, scaled_rules

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool is installed by `make install`")


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, cwd=cwd, timeout=60)


def test_the_shipped_rules_are_valid_prometheus_rules() -> None:
    checked = promtool("check", "rules", str(ALERTS_FILE))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_alert_behaves_as_its_promtool_unit_test_says() -> None:
    tested = promtool("test", "rules", ALERTS_TEST_FILE.name, cwd=ALERTS_TEST_FILE.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_has_a_unit_test_that_sees_it_fire() -> None:
    alerts = {rule["alert"] for group in yaml.safe_load(ALERTS_FILE.read_text())["groups"]
              for rule in group["rules"]}
    fired = {case["alertname"] for test in yaml.safe_load(ALERTS_TEST_FILE.read_text())["tests"]
             for case in test["alert_rule_test"] if case.get("exp_alerts")}
    assert alerts - fired == set()
    assert len(alerts) >= 13


def test_the_rules_scaled_for_a_short_test_are_still_valid(tmp_path: Path) -> None:
    scaled = tmp_path / "alerts.yml"
    scaled.write_text(yaml.safe_dump(scaled_rules(0.05)))
    checked = promtool("check", "rules", str(scaled))
    assert checked.returncode == 0, checked.stdout + checked.stderr
