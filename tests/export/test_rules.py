"""The rules file: valid for Prometheus, unit-tested with ``promtool test rules``, and the
alertnames modelmon pushes to Alertmanager itself."""

from __future__ import annotations

import subprocess

import pytest

from service.alerting.labels import ALERT_NAMES
from tests.export.live import RULES_FILE
from tests.export.promql import rules
from tests.tools import require_binary

UNIT_TESTS = RULES_FILE.parents[3] / "tests" / "export" / "rules_test.yml"


def _promtool(*arguments: str) -> subprocess.CompletedProcess[str]:
    promtool = require_binary("promtool")
    return subprocess.run(
        [promtool, *arguments], capture_output=True, text=True, timeout=60, check=False, cwd=UNIT_TESTS.parent
    )


def test_promtool_accepts_the_rules_file() -> None:
    result = _promtool("check", "rules", str(RULES_FILE))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_promtool_unit_tests_of_the_rules_pass() -> None:
    result = _promtool("test", "rules", UNIT_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_of_the_file_has_a_promtool_unit_test() -> None:
    tested = UNIT_TESTS.read_text()
    untested = sorted(rule["alert"] for rule in rules() if f"alertname: {rule['alert']}\n" not in tested)
    assert untested == []


def test_model_health_rules_use_the_alertnames_modelmon_pushes() -> None:
    alerts = {rule["alert"]: rule for rule in rules() if "alert" in rule}
    assert set(ALERT_NAMES.values()) <= set(alerts)
    for family, name in ALERT_NAMES.items():
        assert alerts[name]["labels"]["family"] == family, name


def test_model_health_rules_aggregate_over_replicas() -> None:
    for name in ALERT_NAMES.values():
        expr = next(rule["expr"] for rule in rules() if rule.get("alert") == name)
        assert "max by (model" in expr, f"{name} must take max over replicas: {expr}"
