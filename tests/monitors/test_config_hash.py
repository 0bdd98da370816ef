"""The configuration hash is built from named fields, and existing configurations keep the hash
the code before that change gave them (window runs and stored layouts cite it)."""

from __future__ import annotations

from typing import Any

import pytest

from service.monitors.schemas import MonitorConfig
from service.monitors.service import EVALUATED_SECTIONS, config_hash

RICH: dict[str, Any] = {
    "window": "7d",
    "step": "1d",
    "bucket": "1h",
    "reference": {"kind": "range", "start": "2026-11-01T00:00:00Z", "end": "2026-11-08T00:00:00Z"},
    "decision": "point",
    "confidence": 0.99,
    "min_rows": 50,
    "label_wait": "3d",
    "drift": {"enabled": False, "alpha": 0.01, "numeric_threshold": 0.2, "outputs": False},
    "data_quality": {"max_unseen_share": 0.2},
    "performance": {"estimated": False, "thresholds": {"roc_auc": {"min": 0.7}, "brier": {"max": 0.3}}},
    "fairness": {
        "max_calibration_difference": 0.1,
        "min_impact_ratio": 0.75,
        "intersections": [["sex", "age"]],
    },
    "explanation": {"top_k": 5},
    "alerting": {"drift": {"fire_after": 5}},
    "retraining": {},
}

# Computed by the code before the hash named its fields (a sha256 of the JSON dump without the
# alerting and retraining sections); these values are cited by stored window runs.
BEFORE = [
    ({}, "e4490775343defad163fb97637d585927a34e3664ae709981d97fb54cbdcab1e"),
    (
        MonitorConfig.model_json_schema()["examples"][0],
        "8629c542eba1bc1f5757ea6437a29c60c46ca5233e53fe23f225f9884836c2c9",
    ),
    (RICH, "4ff276484b910593e03c971191953bf9db683f61e1cf2256d4f6f1e2932eda26"),
]


@pytest.mark.parametrize(("stored", "expected"), BEFORE)
def test_existing_configurations_keep_their_hash(stored: dict[str, Any], expected: str) -> None:
    assert config_hash(MonitorConfig.model_validate(stored)) == expected


def test_policies_that_do_not_evaluate_stay_out_of_the_hash() -> None:
    quiet = {**RICH, "alerting": {"drift": {"fire_after": 9}}, "retraining": {"enabled": True}}
    assert config_hash(MonitorConfig.model_validate(quiet)) == BEFORE[2][1]


def test_every_evaluated_field_changes_the_hash() -> None:
    base = config_hash(MonitorConfig())
    changes = [{"min_rows": 101}, {"drift": {"alpha": 0.02}}, {"explanation": {"min_ndcg": 0.8}}]
    assert all(config_hash(MonitorConfig.model_validate(c)) != base for c in changes)


def test_every_section_is_either_hashed_or_named_as_not_evaluated() -> None:
    not_evaluated = {"alerting", "retraining"}
    assert set(MonitorConfig.model_fields) == set(EVALUATED_SECTIONS) | not_evaluated
