"""Stored data for the metrics tests: the engine's scenario model ``credit`` (drift in two
features, a fairness gap, late labels) and a second model ``churn`` with 20 features and
feature attributions (explanation figures), both evaluated by the real jobs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from service.app import create_app
from service.config import Settings
from service.runner import Pipeline
from tests import factories
from tests.asgi_client import AppClient, app_client
from tests.windows import scenario

CHURN_CONFIG: dict[str, Any] = {
    "window": "24h",
    "step": "6h",
    "bucket": "15m",
    "min_rows": 50,
    "label_wait": "1d",
}
CHURN_ROWS = 1440  # one a minute for a day from factories.START


def _attributions(i: int, *, shifted: bool) -> dict[str, float]:
    first, second = ("num_01", "num_00") if shifted else ("num_00", "num_01")
    return {first: 0.5 + (i % 7) / 100, second: 0.2, "num_02": 0.05 + (i % 3) / 100}


def churn(client: AppClient, clock: scenario.MutableClock, run_jobs: Callable[[], None]) -> None:
    """Register ``churn``, upload a reference with attributions, send a day of predictions
    (the importance ranking swapped) and their outcomes, and evaluate."""
    assert client.post("/v1/models", json=factories.registration("churn")).status_code == 201
    assert client.put("/v1/models/churn/monitor", json=CHURN_CONFIG).status_code == 200
    rows = [factories.reference_row(i, attributions=_attributions(i, shifted=False)) for i in range(600)]
    assert client.post("/v1/models/churn/reference", json={"rows": rows}).status_code in (200, 201)
    clock.at = factories.START + timedelta(days=1, hours=1)
    batch = [factories.prediction(i, attributions=_attributions(i, shifted=True)) for i in range(CHURN_ROWS)]
    response = client.post("/v1/models/churn/predictions", json={"predictions": batch})
    assert response.status_code == 200, response.text
    outcomes = [factories.outcome(i, timestamp=clock.at.isoformat()) for i in range(0, CHURN_ROWS, 2)]
    assert client.post("/v1/models/churn/outcomes", json={"outcomes": outcomes}).status_code == 200
    run_jobs()


def populate(database_url: str) -> None:
    """Both models in the (migrated, empty) database at ``database_url``, then one more
    round of jobs at the real time, so that live servers started afterwards find nothing
    left due (their snapshots stay the same while a test runs)."""
    settings = Settings(database_url=database_url, run_jobs=False)
    clock = scenario.MutableClock(scenario.START)
    app = create_app(settings, clock=clock)
    jobs = Pipeline(app.state.context.sessions, settings, clock)
    try:
        with app_client(app) as client:
            scenario.run(client, clock, lambda: _round(jobs))
            churn(client, clock, lambda: _round(jobs))
            clock.at = datetime.now(UTC)
            _round(jobs)
    finally:
        app.state.context.engine.dispose()


def _round(jobs: Pipeline) -> None:
    jobs.run_round()
