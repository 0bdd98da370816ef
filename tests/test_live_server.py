"""The issue's acceptance walk-through against a live `modelmon serve` (uvicorn) over real HTTP.

Register a model, ingest 10,000 predictions in 10 batches, resend one batch (all
duplicates), send outcomes before and after their predictions (all joined), and send each
kind of bad input (a clear 4xx, nothing stored).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.auth import AUTH_HEADERS, TEST_ADMIN_KEY
from tests.factories import outcome, prediction, registration
from tests.live import serve

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture
def live_server(database_url: str, tmp_path: Path) -> Iterator[str]:
    extra = {"MODELMON_AUTO_MIGRATE": "true", "MODELMON_WORKER_INTERVAL_SECONDS": "0.5"}
    with serve(database_url, tmp_path, run_jobs=None, **extra) as base:
        yield base


def _recent(i: int) -> str:
    return (datetime.now(UTC) - timedelta(days=3) + timedelta(seconds=i)).isoformat()


def test_acceptance_walkthrough(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=60, headers=AUTH_HEADERS) as http:
        assert http.post("/v1/models", json=registration()).status_code == 201
        batches = [
            [prediction(i, timestamp=_recent(i)) for i in range(b * 1000, (b + 1) * 1000)] for b in range(10)
        ]
        early = http.post(
            "/v1/models/credit/outcomes", json={"outcomes": [outcome(i) for i in range(0, 500)]}
        )
        assert early.json()["waiting"] == 500
        for batch in batches:
            assert (
                http.post("/v1/models/credit/predictions", json={"predictions": batch}).json()["accepted"]
                == 1000
            )
        resend = http.post("/v1/models/credit/predictions", json={"predictions": batches[3]}).json()
        assert resend == {"accepted": 0, "duplicates": 1000, "outcomes_joined": 0}
        late = http.post(
            "/v1/models/credit/outcomes", json={"outcomes": [outcome(i) for i in range(500, 1000)]}
        )
        assert late.json() == {"accepted": 500, "duplicates": 0, "joined": 500, "waiting": 0}
        bad_requests = [
            ("/v1/models/nobody/predictions", {"predictions": [prediction(1)]}, 404),
            ("/v1/models/credit/predictions", {"predictions": []}, 422),
            ("/v1/models/credit/predictions", {"predictions": [prediction(20_000, score=7)]}, 422),
            (
                "/v1/models/credit/predictions",
                {"predictions": [prediction(20_001, timestamp="2026-01-01T00:00")]},
                422,
            ),
            ("/v1/models/credit/outcomes", {"outcomes": [outcome(20_002, label="maybe")]}, 422),
        ]
        for path, body, status in bad_requests:
            assert http.post(path, json=body).status_code == status
        malformed = http.post(
            "/v1/models/credit/predictions",
            content=b'{"predictions": [',
            headers={"content-type": "application/json"},
        )
        assert malformed.status_code == 400 and "line 1" in malformed.json()["detail"]
        huge = http.post(
            "/v1/models/credit/predictions",
            content=b" " * (33 * 1024 * 1024),
            headers={"content-type": "application/json"},
        )
        assert huge.status_code == 413
        counts = http.get("/v1/models/credit").json()["counts"]
        assert counts == {
            "predictions": 10_000,
            "outcomes": 1000,
            "outcomes_joined": 1000,
            "outcomes_waiting": 0,
        }


def _readme_commands() -> list[str]:
    """The shell commands of the README's "Try it with curl" block, continuation lines joined."""
    text = README.read_text()
    block = text.split("## Try it with curl", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands, current = [], ""
    for line in block.splitlines():
        if line.startswith("export "):  # the key; the test sets MODELMON_KEY itself
            continue
        if line.startswith("#") or not line.strip():
            if current:
                commands.append(current)
            current = ""
        else:
            current += line + "\n"
    return [*commands, current] if current else commands


@pytest.mark.skipif(shutil.which("curl") is None, reason="the README's examples use curl")
def test_the_readme_curl_examples_work(live_server: str) -> None:
    commands = _readme_commands()
    assert len(commands) >= 5
    for command in commands:
        result = subprocess.run(
            ["bash", "-c", command.replace("localhost:8000", live_server.removeprefix("http://"))],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
            env={**os.environ, "MODELMON_KEY": TEST_ADMIN_KEY},
        )
        body = json.loads(result.stdout)
        assert "detail" not in body, f"README example failed: {command}\n{result.stdout}"
    counts = httpx.get(f"{live_server}/v1/models/credit-scoring", headers=AUTH_HEADERS).json()["counts"]
    assert counts == {"predictions": 2, "outcomes": 1, "outcomes_joined": 1, "outcomes_waiting": 0}


def _windows_holding(times: list[datetime]) -> int:
    """Default grid (24 h windows, hourly steps, 5-minute buckets) windows holding these times."""
    from service.kernel.grid import windows_containing

    buckets = {
        t - timedelta(minutes=t.minute % 5, seconds=t.second, microseconds=t.microsecond) for t in times
    }
    return len({w for b in buckets for w in windows_containing(b, bucket=300, step=3600, window=86400)})


def _evaluated_windows(http: httpx.Client) -> int:
    items = http.get("/v1/models/credit/evaluations", params={"family": "drift"}).json()["items"]
    return len({i["window_end"] for i in items})


def test_serve_runs_the_jobs_on_sqlite_and_leaves_them_to_workers_on_postgres(
    live_server: str, database_url: str
) -> None:
    """Without a reference the first rows fix the bins (bootstrap) once they are a window old."""
    with httpx.Client(base_url=live_server, timeout=60, headers=AUTH_HEADERS) as http:
        assert http.post("/v1/models", json=registration()).status_code == 201
        batch = {"predictions": [prediction(i, timestamp=_recent(i * 60)) for i in range(300)]}
        expected = _windows_holding([datetime.fromisoformat(p["timestamp"]) for p in batch["predictions"]])
        assert http.post("/v1/models/credit/predictions", json=batch).status_code == 200
        deadline = time.monotonic() + 30
        if database_url.startswith("sqlite"):
            while _evaluated_windows(http) < expected and time.monotonic() < deadline:
                time.sleep(0.2)
        else:
            time.sleep(1.5)
            assert _evaluated_windows(http) == 0  # serve on Postgres runs no jobs
            env = {**os.environ, "MODELMON_DATABASE_URL": database_url}
            worker = subprocess.run(
                [sys.executable, "-m", "service", "worker", "--once"],
                env=env, capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            assert worker.returncode == 0, worker.stderr
        assert _evaluated_windows(http) == expected >= 28  # 5 h of traffic: 24 h windows on 28-29 steps
        monitor = http.get("/v1/models/credit/monitor").json()
        assert monitor["status"]["layouts"][0]["source"] == "bootstrap"
        assert monitor["status"]["pending_windows"] == 0
