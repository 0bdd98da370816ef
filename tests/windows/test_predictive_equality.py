"""The fairness-disparity extension example: ``predictive_equality_difference`` (max − min FPR
over groups), added as one entry of the disparity table and one settings field.

Simulation: applicants of two groups, "default" the positive class; a window where group B's
creditworthy applicants (y = 0) are refused (ŷ = 1) at 16 % against A's 8 % has a real FPR gap
of 0.08; a quiet window has none. With no bound (the default) the figure is reported and never
alerted; with ``max_predictive_equality_difference`` 0.05 the gap alerts and the quiet window
does not.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from service.app import create_app
from service.config import Settings
from service.monitors.schemas import MonitorConfig
from service.monitors.service import config_hash
from service.runner import Pipeline
from service.stats.layout import Batch, Layout, fit_layout
from service.stats.profile import Profile, build_profile
from service.windows.figures import evaluate_window
from service.windows.figures_base import Figure
from service.windows.policy import evaluation_policy
from tests.asgi_client import app_client
from tests.windows import scenario

METRIC = "predictive_equality_difference"
ROWS = 20_000
BOUNDED = MonitorConfig.model_validate({"fairness": {"max_predictive_equality_difference": 0.05}})


def _applicants(*, seed: int, fpr_b: float, labelled: float = 1.0) -> Batch:
    """Half A, half B; 30 % default; TPR 0.7 in both groups, FPR 0.08 for A and ``fpr_b`` for B."""
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(ROWS) < 0.5, "A", "B").astype(object)
    default = rng.random(ROWS) < 0.3
    refused = np.where(
        default, rng.random(ROWS) < 0.7, rng.random(ROWS) < np.where(group == "B", fpr_b, 0.08)
    )
    labels = np.where(default, "default", "repaid").astype(object)
    labels[rng.random(ROWS) >= labelled] = None
    return Batch(
        rows=ROWS,
        numeric={"income": rng.normal(0.0, 1.0, ROWS)},
        predictions=np.where(refused, "default", "repaid").astype(object),
        labels=labels,
        attributes={"group": group},
    )


@pytest.fixture(scope="module")
def setup() -> tuple[Layout, Profile]:
    reference = _applicants(seed=1, fpr_b=0.08)
    layout = fit_layout(task="binary_classification", reference=reference, positive_label="default")
    return layout, build_profile(layout, reference)


def _figure(
    setup: tuple[Layout, Profile], window: Batch, config: MonitorConfig, *, final: bool = True
) -> Figure:
    layout, reference = setup
    result = evaluate_window(
        layout=layout,
        reference=reference,
        window=build_profile(layout, window),
        policy=evaluation_policy(config),
        final=final,
    )
    (figure,) = [f for f in result.figures if f.metric == METRIC]
    return figure


def test_by_default_a_real_gap_is_reported_without_a_threshold(setup: tuple[Layout, Profile]) -> None:
    figure = _figure(setup, _applicants(seed=2, fpr_b=0.16), MonitorConfig())
    assert figure.value == pytest.approx(0.08, abs=0.015)
    assert (figure.family, figure.attribute, figure.group) == ("fairness", "group", None)
    assert (figure.threshold, figure.status) == (None, "ok")
    assert figure.ci_low is not None and figure.ci_low > 0.05  # the evidence is there, no bound to judge


def test_with_a_bound_a_real_gap_alerts_and_a_quiet_window_does_not(setup: tuple[Layout, Profile]) -> None:
    gap = _figure(setup, _applicants(seed=2, fpr_b=0.16), BOUNDED)
    quiet = _figure(setup, _applicants(seed=3, fpr_b=0.08), BOUNDED)
    assert (gap.status, gap.threshold) == ("alert", 0.05)
    assert quiet.value is not None and quiet.value < 0.02
    assert (quiet.status, quiet.threshold) == ("ok", 0.05)


def test_it_needs_labels_so_it_is_provisional_early(setup: tuple[Layout, Profile]) -> None:
    early = _applicants(seed=2, fpr_b=0.16, labelled=0.5)
    assert _figure(setup, early, BOUNDED, final=False).status == "provisional"


def test_the_bound_enters_the_hash_only_when_set() -> None:
    plain = config_hash(MonitorConfig())
    none = MonitorConfig.model_validate({"fairness": {"max_predictive_equality_difference": None}})
    assert config_hash(none) == plain
    assert config_hash(BOUNDED) != plain
    assert MonitorConfig().fairness.max_predictive_equality_difference is None


def _fpr_gap_day(rng: np.random.Generator, rows: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One day of the scenario model's traffic, every row labelled at once, with women who repay
    refused (prediction 1 = default) at 30 % against men's 5 %; TPR 0.7 for both."""
    records = scenario.reference(seed=int(rng.integers(1_000)))[:rows]
    predictions, outcomes = [], []
    for i, row in enumerate(records):
        default = bool(rng.random() < 0.3)
        fpr = 0.30 if row["attributes"]["sex"] == "F" else 0.05
        refused = rng.random() < (0.7 if default else fpr)
        at = scenario.START + timedelta(seconds=i * 86_400 // rows)
        predictions.append({**row, "id": f"a{i}", "timestamp": at.isoformat(), "prediction": int(refused)})
        outcomes.append({"prediction_id": f"a{i}", "label": int(default), "timestamp": at.isoformat()})
    for p in predictions:
        del p["label"]
    return predictions, outcomes


@pytest.mark.slow
def test_through_the_engine_it_reaches_evaluations_metrics_and_the_card(database_url: str) -> None:
    settings = Settings(database_url=database_url, run_jobs=False)
    clock = scenario.MutableClock(scenario.START)
    app = create_app(settings, clock=clock)
    jobs = Pipeline(app.state.context.sessions, settings, clock)
    config = {**scenario.CONFIG, "step": "1d", "fairness": {"max_predictive_equality_difference": 0.05}}
    try:
        with app_client(app) as client:
            assert client.post("/v1/models", json=scenario.registration()).status_code == 201
            assert client.put("/v1/models/credit/monitor", json=config).status_code == 200
            response = client.post("/v1/models/credit/reference", json={"rows": scenario.reference()})
            assert response.status_code in (200, 201), response.text
            predictions, outcomes = _fpr_gap_day(np.random.default_rng(5), 2_000)
            clock.at = scenario.START + timedelta(days=1, hours=1)
            assert client.post("/v1/models/credit/predictions", json={"predictions": predictions}).is_success
            assert client.post("/v1/models/credit/outcomes", json={"outcomes": outcomes}).is_success
            jobs.run_round()
            params = {"family": "fairness", "metric": METRIC, "attribute": "sex"}
            items = client.get("/v1/models/credit/evaluations", params=params).json()["items"]
            metrics = client.get("/metrics").text
            card = client.get("/v1/models/credit/card", params={"format": "markdown"}).text
    finally:
        app.state.context.engine.dispose()
    (figure,) = [i for i in items if i["window_end"].startswith("2026-11-02")]
    assert (figure["status"], figure["threshold"]) == ("alert", 0.05), figure
    breached = [
        line.rsplit(" ", 1)[1]
        for line in metrics.splitlines()
        if line.startswith("modelmon_fairness_breached{") and f'attribute="sex",metric="{METRIC}"' in line
    ]
    assert [float(v) for v in breached] == [1.0]
    escaped = METRIC.replace("_", "\\_")  # the card's markdown escapes underscores
    assert f"| fairness | {escaped} | sex |" in card
