"""The issue's timestamps against a live `modelmon serve`: a prediction dated 0001-01-01T05:00:00Z
(which stopped every model's monitoring) and the same at +14:00 (a bare 500) are 422s naming
the record and field, and the jobs keep folding and evaluating what comes after."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.auth import AUTH_HEADERS
from tests.factories import outcome, prediction, registration
from tests.live import serve

pytestmark = pytest.mark.slow

HOSTILE = ["0001-01-01T05:00:00Z", "0001-01-01T05:00:00+14:00"]


@pytest.fixture
def live_server(database_url: str, tmp_path: Path) -> Iterator[str]:
    extra = {"MODELMON_AUTO_MIGRATE": "true", "MODELMON_WORKER_INTERVAL_SECONDS": "0.5"}
    with serve(database_url, tmp_path, run_jobs=None, **extra) as base:
        yield base


def _refused(response: httpx.Response, field: str = "timestamp") -> str:
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert (error["index"], error["field"]) == (1, field)
    message: str = error["message"]
    return message


def _evaluated_windows(http: httpx.Client) -> int:
    items = http.get("/v1/models/credit/evaluations", params={"family": "drift"}).json()["items"]
    return len({i["window_end"] for i in items})


def _run_jobs(http: httpx.Client, database_url: str) -> None:
    """SQLite: serve runs them (wait for the windows); Postgres: one `modelmon worker --once`."""
    if database_url.startswith("sqlite"):
        deadline = time.monotonic() + 30
        while _evaluated_windows(http) == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # the rest of the round
        return
    env = {**os.environ, "MODELMON_DATABASE_URL": database_url}
    worker = subprocess.run(
        [sys.executable, "-m", "service", "worker", "--once"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert worker.returncode == 0, worker.stderr


def test_year_one_timestamps_are_422_and_monitoring_goes_on(live_server: str, database_url: str) -> None:
    now = datetime.now(UTC)
    # Three days old: without a reference the first rows fix the bins once they are a window old.
    recent = [(now - timedelta(days=3) + timedelta(minutes=i)).isoformat() for i in range(300)]
    with httpx.Client(base_url=live_server, timeout=60, headers=AUTH_HEADERS) as http:
        assert http.post("/v1/models", json=registration()).status_code == 201
        for moment in HOSTILE:
            body = {"predictions": [prediction(0, timestamp=recent[0]), prediction(1, timestamp=moment)]}
            assert "window grid" in _refused(http.post("/v1/models/credit/predictions", json=body))
            labels = {"outcomes": [outcome(0, timestamp=recent[0]), outcome(1, timestamp=moment)]}
            _refused(http.post("/v1/models/credit/outcomes", json=labels))
            listed = http.get("/v1/models/credit/evaluations", params={"from": moment})
            assert listed.status_code == 422 and listed.json()["errors"][0]["field"] == "from"
        assert http.get("/v1/models/credit").json()["counts"]["predictions"] == 0
        batch = {"predictions": [prediction(i, timestamp=recent[i]) for i in range(300)]}
        assert http.post("/v1/models/credit/predictions", json=batch).status_code == 200
        _run_jobs(http, database_url)
        assert _evaluated_windows(http) >= 24  # 5 h of traffic: every 24 h window holding it
        status = http.get("/v1/models/credit/monitor").json()["status"]
        assert status["failures"] == [] and status["pending_windows"] == 0
