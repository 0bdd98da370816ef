"""Multivariate drift through the real API, aggregation, evaluation and alert rules (SQLite and
Postgres): two numeric features whose correlation flips from +0.8 to −0.8 with unchanged
N(0, 1) marginals. Every univariate drift figure stays quiet; the multivariate one alerts,
fires after the drift family's two windows, and shows in /metrics and /ui."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from service.app import create_app
from service.config import Settings
from service.monitors.schemas import MonitorConfig
from service.monitors.service import _evaluated, config_hash
from service.runner import Pipeline
from service.stats.layout import Batch, fit_layout
from service.stats.profile import build_profile
from service.windows.figures import decider_of
from service.windows.figures_drift import drift_figures
from service.windows.policy import evaluation_policy
from tests.asgi_client import AppClient, app_client
from tests.windows.scenario import MutableClock

START = datetime(2026, 11, 2, tzinfo=UTC)
WINDOW = timedelta(hours=12)
ROWS = 2000  # per window
MV = "multivariate_reconstruction_error"
CONFIG = {"window": "12h", "step": "12h", "bucket": "1h"}


def _rows(rng: np.random.Generator, rho: float, n: int) -> list[dict[str, Any]]:
    """n rows of (a, b) ~ N(0, [[1, ρ], [ρ, 1]]); the prediction depends on a alone, so the
    output's marginal is unchanged too."""
    a, b = rng.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]], size=n).T
    return [
        {"features": {"a": float(x), "b": float(y)}, "prediction": float(2.0 * x + 5.0)}
        for x, y in zip(a, b, strict=True)
    ]


def _send_window(client: AppClient, rng: np.random.Generator, start: datetime, rho: float) -> None:
    offsets = np.sort(rng.random(ROWS)) * WINDOW.total_seconds()
    records = [
        row | {"id": f"{start:%d%H}-{i}", "timestamp": (start + timedelta(seconds=float(s))).isoformat()}
        for i, (row, s) in enumerate(zip(_rows(rng, rho, ROWS), offsets, strict=True))
    ]
    response = client.post("/v1/models/pair/predictions", json={"predictions": records})
    assert response.status_code == 200, response.text


@pytest.fixture
def flipped(database_url: str) -> Iterator[AppClient]:
    """A reference at ρ = +0.8, one quiet window, then two windows at ρ = −0.8."""
    settings = Settings(database_url=database_url, run_jobs=False)
    clock = MutableClock(START)
    app = create_app(settings, clock=clock)
    jobs = Pipeline(app.state.context.sessions, settings, clock)
    rng = np.random.default_rng(19)
    registration = {
        "name": "pair",
        "version": "v1",
        "task": "regression",
        "features": [{"name": "a", "type": "numeric"}, {"name": "b", "type": "numeric"}],
    }
    try:
        with app_client(app) as client:
            assert client.post("/v1/models", json=registration).status_code == 201
            assert client.put("/v1/models/pair/monitor", json=CONFIG).status_code == 200
            reference = [r | {"label": r["prediction"]} for r in _rows(rng, 0.8, 3000)]
            response = client.post("/v1/models/pair/reference", json={"rows": reference})
            assert response.status_code in (200, 201), response.text
            for k, rho in enumerate((0.8, -0.8, -0.8)):
                clock.at = START + (k + 1) * WINDOW
                _send_window(client, rng, START + k * WINDOW, rho)
                jobs.run_round()
            yield client
    finally:
        app.state.context.engine.dispose()


def _drift_items(client: AppClient) -> list[dict[str, Any]]:
    response = client.get("/v1/models/pair/evaluations", params={"family": "drift", "limit": "1000"})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return sorted(items, key=lambda i: (i["window_end"], i["metric"], i["feature"] or ""))


def test_a_correlation_flip_alerts_only_the_multivariate_figure(flipped: AppClient) -> None:
    items = _drift_items(flipped)
    univariate = [i for i in items if i["metric"] == "drift_score"]
    assert {i["feature"] for i in univariate} == {"a", "b", "prediction"}
    assert len(univariate) == 9 and all(i["status"] == "ok" for i in univariate), univariate
    scores = [i for i in items if i["metric"] == MV]
    q_values = [i for i in items if i["metric"] == "multivariate_p_value"]
    assert [i["status"] for i in scores] == ["ok", "alert", "alert"]
    assert [i["status"] for i in q_values] == ["ok", "alert", "alert"]
    for score in scores[1:]:
        assert score["feature"] is None and score["n"] == ROWS
        assert score["ci_low"] > score["threshold"] == pytest.approx(0.1)
    assert all(q["value"] < 0.05 for q in q_values[1:]) and q_values[0]["value"] > 0.05

    alerts = flipped.get("/v1/alerts", params={"limit": "100"}).json()["items"]
    window_alerts = [a for a in alerts if a["family"] != "no_data"]
    assert [(a["family"], a["metric"], a["state"]) for a in window_alerts] == [("drift", MV, "firing")]

    incidents = flipped.get("/v1/incidents").json()["items"]
    assert [(i["kind"], i["cause"]) for i in incidents] == [("input", "input:(joint numeric features)")]

    metrics = flipped.get("/metrics").text
    assert 'modelmon_multivariate_drifted{model="pair",version="v1"} 1.0' in metrics
    assert 'modelmon_feature_drifted{feature="b",model="pair",version="v1"} 0.0' in metrics
    page = flipped.get("/ui/models/pair")
    assert page.status_code == 200 and 'data-chart="drift-multivariate"' in page.text


def test_drift_multivariate_false_removes_the_figure_and_the_default_keeps_stored_hashes() -> None:
    rng = np.random.default_rng(4)
    batch = Batch(rows=500, numeric={"a": rng.normal(size=500), "b": rng.normal(size=500)})
    layout = fit_layout(task="regression", reference=batch)
    profile = build_profile(layout, batch)
    metrics = {}
    for on in (True, False):
        policy = evaluation_policy(MonitorConfig.model_validate({"drift": {"multivariate": on}}))
        figures = drift_figures(layout, profile, profile, policy, decider_of(policy))
        metrics[on] = {f.metric for f in figures}
    assert metrics == {
        True: {"drift_score", "p_value", MV, "multivariate_p_value"},
        False: {"drift_score", "p_value"},
    }
    # A configuration stored before the switch existed hashes as it did: the default is left out.
    assert "multivariate" not in _evaluated(MonitorConfig())["drift"]
    off = MonitorConfig.model_validate({"drift": {"multivariate": False}})
    assert config_hash(off) != config_hash(MonitorConfig())
