"""The evaluation policy built from the API schema, and the registries it reads: drift methods
per column kind and the disparity table's bounds."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from service.monitors.schemas import FairnessSettings, MonitorConfig
from service.monitors.service import config_hash
from service.stats.disparities import DISPARITIES, disparities_of
from service.stats.drift import coarse_counts, hellinger
from service.stats.layout import Batch, Layout, fit_layout
from service.stats.methods import DRIFT_METHODS
from service.stats.profile import Profile, build_profile
from service.windows.figures import evaluate_window
from service.windows.figures_base import Figure, Limit
from service.windows.figures_fairness import LABEL_DISPARITIES, alerting_disparities, disparity_limit
from service.windows.policy import EvaluationPolicy, evaluation_policy
from tests.asgi_client import AppClient
from tests.windows import scenario

DOCS = Path(__file__).resolve().parents[2] / "docs"
MONITOR = "/v1/models/credit/monitor"


def test_fairness_bounds_are_a_mapping_over_the_disparity_table() -> None:
    config = MonitorConfig.model_validate(
        {"fairness": {"max_calibration_difference": 0.07, "min_impact_ratio": 0.7}}
    )
    bounds = evaluation_policy(config).fairness.bounds
    assert set(bounds) == {d.name for d in DISPARITIES}
    assert (bounds["calibration_difference"], bounds["disparate_impact_ratio"]) == (0.07, 0.7)
    assert bounds["statistical_parity_difference"] == 0.1


def test_the_table_drives_calibration_difference() -> None:
    fairness = evaluation_policy(
        MonitorConfig.model_validate({"fairness": {"max_calibration_difference": 0.07}})
    )
    assert disparity_limit("calibration_difference", fairness.fairness) == Limit(high=0.07)
    assert disparity_limit("disparate_impact_ratio", fairness.fairness) == Limit(low=0.8)
    assert "calibration_difference" in LABEL_DISPARITIES  # provisional in early windows
    assert "calibration_difference" in {d.name for d in disparities_of(scored=True)}
    assert "calibration_difference" not in {d.name for d in disparities_of(scored=False)}


def test_every_disparity_bound_is_a_schema_field_defaulting_to_the_table() -> None:
    defaults = FairnessSettings()
    assert all(getattr(defaults, d.setting) == d.default_bound for d in DISPARITIES)


def test_the_docs_list_every_drift_method_and_disparity() -> None:
    drift = (DOCS / "statistics.md").read_text(encoding="utf-8")
    outcomes = (DOCS / "statistics-outcomes.md").read_text(encoding="utf-8")
    assert [name for name in DRIFT_METHODS if f"| `{name}`" not in drift] == []
    assert [d.name for d in DISPARITIES if f"| `{d.name}` |" not in outcomes] == []


def _batch(rows: int, seed: int, shift: float) -> Batch:
    rng = np.random.default_rng(seed)
    return Batch(rows=rows, numeric={"x": rng.normal(shift, 1.0, rows)})


def test_a_monitor_choosing_hellinger_is_judged_on_hellinger() -> None:
    reference, window = _batch(4_000, 1, 0.0), _batch(2_000, 2, 0.5)
    layout = fit_layout(task="regression", reference=reference)
    profiles = build_profile(layout, reference), build_profile(layout, window)
    scores = {}
    for method in ("wasserstein_norm", "hellinger"):
        config = MonitorConfig.model_validate({"drift": {"numeric_method": method}})
        figures = evaluate_window(
            layout=layout,
            reference=profiles[0],
            window=profiles[1],
            policy=evaluation_policy(config),
            final=True,
        )
        (score,) = [f for f in figures.figures if f.metric == "drift_score"]
        scores[method] = score
    bins = layout.numeric[0]
    expected = hellinger(
        coarse_counts(bins, profiles[0].numeric["x"].bins), coarse_counts(bins, profiles[1].numeric["x"].bins)
    )
    assert scores["hellinger"].value == pytest.approx(expected, rel=1e-12)
    assert scores["hellinger"].value != pytest.approx(scores["wasserstein_norm"].value)
    assert scores["hellinger"].ci_low is None and scores["hellinger"].status == "alert"


def test_an_unknown_or_misplaced_method_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="numeric_method"):
        MonitorConfig.model_validate({"drift": {"numeric_method": "psi"}})
    with pytest.raises(ValidationError, match="numeric_method"):
        MonitorConfig.model_validate({"drift": {"numeric_method": "jensen_shannon"}})
    with pytest.raises(ValidationError, match="categorical_method"):
        MonitorConfig.model_validate({"drift": {"categorical_method": "wasserstein_norm"}})


def test_choosing_a_method_changes_the_hash_only_away_from_the_default() -> None:
    plain = config_hash(MonitorConfig())
    assert (
        config_hash(MonitorConfig.model_validate({"drift": {"numeric_method": "wasserstein_norm"}})) == plain
    )
    assert config_hash(MonitorConfig.model_validate({"drift": {"numeric_method": "hellinger"}})) != plain


@pytest.fixture
def registered(client: AppClient) -> AppClient:
    assert client.post("/v1/models", json=scenario.registration()).status_code == 201
    return client


def test_the_api_saves_a_chosen_method_and_refuses_an_unknown_one(registered: AppClient) -> None:
    refused = registered.put(MONITOR, json={"drift": {"categorical_method": "kl"}})
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["drift.categorical_method"]
    assert registered.get(MONITOR).json()["configured"] is False
    saved = registered.put(MONITOR, json={"drift": {"numeric_method": "hellinger"}})
    assert saved.status_code == 200, saved.text
    drift = registered.get(MONITOR).json()["config"]["drift"]
    assert (drift["numeric_method"], drift["categorical_method"]) == ("hellinger", "jensen_shannon")


def test_a_disparity_without_a_bound_has_no_limit_and_leaves_the_family() -> None:
    bounded = evaluation_policy(MonitorConfig()).fairness
    bounds = dict(bounded.bounds)
    bounds["predictive_parity_difference"] = None
    unbounded = replace(bounded, bounds=bounds)
    assert disparity_limit("predictive_parity_difference", unbounded) is None
    assert alerting_disparities(unbounded, scored=True) == alerting_disparities(bounded, scored=True) - 1
    assert alerting_disparities(unbounded, scored=False) == alerting_disparities(bounded, scored=False) - 1


def test_a_disparity_without_a_bound_is_reported_but_never_alerted() -> None:
    """A real predictive-parity gap: bounded it is judged against its threshold; without a bound
    the same figure carries no threshold and is ``ok``, and the bounded disparities' intervals
    are narrower (a family of one fewer)."""
    reference = _gap_batch(8_000, seed=1, gap=0.0)
    window = _gap_batch(8_000, seed=2, gap=0.6)
    layout = fit_layout(task="binary_classification", reference=reference, positive_label="yes")
    profiles = build_profile(layout, reference), build_profile(layout, window)
    policy = evaluation_policy(
        MonitorConfig.model_validate({"fairness": {"max_equalized_odds_difference": 0.5}})
    )
    bounds = {**policy.fairness.bounds, "predictive_parity_difference": None}
    quiet = replace(policy, fairness=replace(policy.fairness, bounds=bounds))
    judged = {name: _disparities(layout, profiles, p) for name, p in (("bounded", policy), ("quiet", quiet))}
    loud, reported = (
        judged["bounded"]["predictive_parity_difference"],
        judged["quiet"]["predictive_parity_difference"],
    )
    assert loud.status == "alert" and loud.threshold == 0.1
    assert (reported.status, reported.threshold, reported.value) == ("ok", None, loud.value)
    parity = (
        judged["bounded"]["statistical_parity_difference"],
        judged["quiet"]["statistical_parity_difference"],
    )
    assert parity[1].value == parity[0].value
    assert (
        parity[1].ci_low is not None and parity[0].ci_low is not None and parity[1].ci_low > parity[0].ci_low
    )


def _gap_batch(rows: int, *, seed: int, gap: float) -> Batch:
    """Group B's positives are predicted positive less often: its PPV and TPR fall by ``gap``."""
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(rows) < 0.5, "A", "B").astype(object)
    actual = rng.random(rows) < 0.4
    hit = rng.random(rows) < np.where(group == "B", 0.9 - gap, 0.9)
    false_alarm = rng.random(rows) < np.where(group == "B", 0.1 + gap / 2, 0.1)
    predicted = np.where(actual, hit, false_alarm)
    return Batch(
        rows=rows,
        numeric={"x": rng.normal(0.0, 1.0, rows)},
        predictions=np.where(predicted, "yes", "no").astype(object),
        labels=np.where(actual, "yes", "no").astype(object),
        attributes={"group": group},
    )


def _disparities(
    layout: Layout, profiles: tuple[Profile, Profile], policy: EvaluationPolicy
) -> dict[str, Figure]:
    result = evaluate_window(
        layout=layout, reference=profiles[0], window=profiles[1], policy=policy, final=True
    )
    return {f.metric: f for f in result.figures if f.family == "fairness" and f.group is None and f.attribute}
