"""The evaluation policy built from the API schema, and the registries it reads: drift methods
per column kind and the disparity table's bounds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from service.monitors.schemas import FairnessSettings, MonitorConfig
from service.monitors.service import config_hash
from service.stats.disparities import DISPARITIES, disparities_of
from service.stats.drift import coarse_counts, hellinger
from service.stats.layout import Batch, fit_layout
from service.stats.methods import DRIFT_METHODS
from service.stats.profile import build_profile
from service.windows.figures import evaluate_window
from service.windows.figures_base import Limit
from service.windows.figures_fairness import LABEL_DISPARITIES, disparity_limit
from service.windows.policy import evaluation_policy
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
