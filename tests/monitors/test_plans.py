"""The frozen policies and plans built from the API schema (``service/monitors/plans.py``):
every schema field reaches them, partial rules keep their family's defaults, and only the
edges read the schema."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.monitors.plans import (
    AlertingPolicy,
    FamilyPolicy,
    RetrainingPolicy,
    alerting_policy,
    binning_plan,
    window_grid,
)
from service.monitors.policy import (
    FAMILY_DEFAULTS,
    AlertingSettings,
    FamilyRule,
    RetrainingSettings,
    Severity,
)
from service.monitors.schemas import MonitorConfig, ReferenceKind

SERVICE = Path(__file__).resolve().parents[2] / "service"

# Every field set away from its default, so a field dropped by the builder shows.
CHANGED_RULE = {"enabled": False, "fire_after": 7, "resolve_margin": 0.35, "severity": "critical"}
CHANGED = MonitorConfig.model_validate(
    {
        "window": "2d",
        "step": "2h",
        "bucket": "10m",
        "label_wait": "3d",
        "reference": {"kind": "range", "start": "2026-11-01T00:00:00Z", "end": "2026-11-08T00:00:00Z"},
        "bootstrap_rows": 5_000,
        "min_rows": 50,
        "data_quality": {"max_missing_rate_increase": 0.15},
        "performance": {"max_drop": 0.03, "thresholds": {"roc_auc": {"min": 0.7}}},
        "fairness": {"intersections": [["sex", "age_band"]]},
        "alerting": {
            **dict.fromkeys(FAMILY_DEFAULTS, CHANGED_RULE),
            "no_data_after": "30m",
            "no_data_severity": "warning",
        },
        "retraining": {
            "enabled": False,
            "performance_firing_for": "1h",
            "drift_with_estimated_drop": False,
            "cooldown": "2d",
        },
    }
)


def test_every_alerting_field_reaches_the_policy() -> None:
    policy = alerting_policy(CHANGED)
    expected_rule = FamilyPolicy(enabled=False, fire_after=7, resolve_margin=0.35, severity=Severity.CRITICAL)
    assert dict(policy.families) == dict.fromkeys(FAMILY_DEFAULTS, expected_rule)
    assert (policy.no_data.after, policy.no_data.severity) == (1_800, Severity.WARNING)
    assert policy.retraining == RetrainingPolicy(
        enabled=False, performance_firing_for=3_600, drift_with_estimated_drop=False, cooldown=2 * 86_400
    )
    assert policy.history == 3 * 86_400 + 2 * 86_400  # label_wait + window
    assert policy.reference_kind == "range"
    relative = policy.relative
    assert (relative.max_drop, relative.bounded, relative.missing_rate_increase) == (
        0.03,
        frozenset({"roc_auc"}),
        0.15,
    )


def test_the_policy_has_a_field_for_every_schema_field() -> None:
    """A field added to a settings class must be carried by its policy (or named here)."""
    assert {f.name for f in dataclasses.fields(FamilyPolicy)} == set(FamilyRule.model_fields)
    assert {f.name for f in dataclasses.fields(RetrainingPolicy)} == set(RetrainingSettings.model_fields)
    rules = {name for name, info in AlertingSettings.model_fields.items() if info.annotation is FamilyRule}
    assert rules == set(FAMILY_DEFAULTS)
    assert set(AlertingSettings.model_fields) - rules == {"no_data_after", "no_data_severity"}


def test_a_partial_family_rule_keeps_its_family_defaults() -> None:
    policy = alerting_policy(MonitorConfig.model_validate({"alerting": {"drift": {"fire_after": 3}}}))
    assert policy.families["drift"] == FamilyPolicy(True, 3, 0.2, Severity.WARNING)
    assert policy.families["data_quality"] == FamilyPolicy(True, 1, 0.2, Severity.CRITICAL)
    assert policy.rule_for("no_data") is None and policy.rule_for("no_data_after") is None


def test_the_defaults_build_the_documented_policy() -> None:
    policy = alerting_policy(MonitorConfig())
    assert {family: rule.fire_after for family, rule in policy.families.items()} == {
        family: defaults["fire_after"] for family, defaults in FAMILY_DEFAULTS.items()
    }
    assert (policy.no_data.after, policy.retraining.cooldown) == (2 * 3_600, 7 * 86_400)
    assert policy.relative.room("performance", "roc_auc") == 0.05  # max_drop
    assert policy.relative.room("data_quality", "missing_rate") == 0.1
    assert policy.relative.room("drift", "drift_score") is None


def test_an_explicit_performance_bound_is_absolute() -> None:
    policy = alerting_policy(CHANGED)
    assert policy.relative.room("performance", "roc_auc") is None
    assert policy.relative.room("estimated_performance", "accuracy") == 0.03


def test_the_grid_and_the_binning_plan_carry_their_fields() -> None:
    grid = window_grid(CHANGED)
    assert (grid.window, grid.step, grid.bucket, grid.label_wait) == (2 * 86_400, 7_200, 600, 3 * 86_400)
    plan = binning_plan(CHANGED)
    assert plan.reference.kind is ReferenceKind.RANGE
    assert (plan.reference.start, plan.reference.end) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 11, 8, tzinfo=UTC),
    )
    assert (plan.bootstrap_rows, plan.min_rows, plan.window, plan.bucket) == (5_000, 50, 2 * 86_400, 600)
    assert plan.intersections == (("sex", "age_band"),)
    assert plan.inputs == CHANGED.layout_inputs()  # the layouts' inputs hash is unchanged
    assert binning_plan(MonitorConfig()).intersections is None


def test_the_policies_are_frozen() -> None:
    policy = alerting_policy(MonitorConfig())
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.history = 0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.families["drift"].fire_after = 5  # type: ignore[misc]
    assert not hasattr(policy, "__dict__")  # slots
    assert isinstance(policy, AlertingPolicy)


# The edges that may read the API schema: the schemas themselves, the configuration's own
# service (load, store, hash), the places the policies are built, and the endpoints and
# responses that answer the configuration as JSON.
SCHEMA_READERS = {
    "monitors/schemas.py",
    "monitors/service.py",
    "monitors/plans.py",
    "windows/policy.py",
    "windows/schemas.py",
    "reports/schemas.py",
    "status/endpoints.py",
}


def test_only_the_edges_read_the_schema() -> None:
    readers = {
        path.relative_to(SERVICE).as_posix()
        for path in SERVICE.rglob("*.py")
        if "MonitorConfig" in path.read_text(encoding="utf-8")
    }
    assert readers == SCHEMA_READERS
