"""Workers as real processes on Postgres: a killed worker's claims return to the pool, and the
`modelmon worker --once` / `modelmon backfill` commands run end to end (SQLite and Postgres)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from service.app import create_app
from service.config import Settings
from service.runner import Pipeline
from service.storage.database import unit_of_work
from service.storage.engine_tables import WindowRun, WindowTask
from tests.asgi_client import app_client
from tests.windows import scenario

DAY = scenario.START


def _load_one_day(database_url: str, day: int = 1) -> Pipeline:
    """A model with a day of traffic folded in; its windows (24 h, every hour) all due."""
    settings = Settings(database_url=database_url, run_jobs=False)
    start = DAY + timedelta(days=day - 1)
    clock = scenario.MutableClock(start + timedelta(days=1))
    app = create_app(settings, clock=clock)
    with app_client(app) as client:
        if day == 1:
            assert client.post("/v1/models", json=scenario.registration()).status_code == 201
            reference = client.post("/v1/models/credit/reference", json={"rows": scenario.reference()})
            assert reference.status_code == 200
        rows = scenario._rows(
            np.random.default_rng(day), 1500, start, timedelta(days=1), day=1, prefix=f"d{day}"
        )
        assert (
            client.post("/v1/models/credit/predictions", json={"predictions": rows.records}).status_code
            == 200
        )
    clock.at = start + timedelta(days=3)
    jobs = Pipeline(app.state.context.sessions, settings, clock)
    jobs.catch_up()
    return jobs


CLAIMER = textwrap.dedent(
    """
    import sys, time
    from datetime import datetime
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session
    from service.windows.repository import claim_due

    engine = create_engine(sys.argv[1])
    with Session(engine) as session, session.begin():
        tasks = claim_due(session, datetime.fromisoformat(sys.argv[2]), 3)
        print(len(tasks), flush=True)
        time.sleep(120)  # "evaluating" until killed
    """
)


@pytest.fixture
def claimer(postgres_url: str) -> Iterator[tuple[Pipeline, subprocess.Popen[str]]]:
    jobs = _load_one_day(postgres_url)
    child = subprocess.Popen(
        [sys.executable, "-c", CLAIMER, postgres_url, jobs.clock().isoformat()],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "3"
        yield jobs, child
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
        jobs.sessions.kw["bind"].dispose()


@pytest.mark.postgres
def test_a_killed_workers_windows_are_evaluated_by_another(
    claimer: tuple[Pipeline, subprocess.Popen[str]],
) -> None:
    jobs, child = claimer
    with unit_of_work(jobs.sessions) as session:
        total = session.execute(select(func.count()).select_from(WindowTask)).scalar_one()
    assert total == 47  # 24 h windows holding day-1 buckets: ending 01:00 on day 1 to 23:00 on day 2
    evaluated = 0
    while ran := jobs.evaluate_once():  # skips the 3 claimed windows instead of waiting for them
        evaluated += ran
    assert evaluated == total - 3
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    # Postgres ends the dead client's backend, and with it the row locks, once it reads the
    # closed socket: milliseconds, more on a loaded machine. Look again until then (≤ 10 s).
    deadline = time.monotonic() + 10
    while evaluated < total and time.monotonic() < deadline:
        evaluated += jobs.evaluate_once()
    assert evaluated == total
    with unit_of_work(jobs.sessions) as session:
        runs = session.execute(select(WindowRun.window_end, WindowRun.revision)).all()
        pending = session.execute(
            select(func.count()).select_from(WindowTask).where(WindowTask.wanted > WindowTask.done)
        ).scalar_one()
    assert len(runs) == total and {r for _, r in runs} == {1} and pending == 0


def _modelmon(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MODELMON_DATABASE_URL": database_url, "MODELMON_LOG_LEVEL": "info"}
    command = [str(Path(sys.executable).with_name("modelmon")), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.slow
def test_worker_once_and_backfill_commands(database_url: str) -> None:
    jobs = _load_one_day(database_url)
    jobs.sessions.kw["bind"].dispose()
    worker = _modelmon(database_url, "worker", "--once")
    assert worker.returncode == 0, worker.stderr
    assert "evaluated 47 windows" in worker.stderr
    _load_one_day(database_url, day=2).sessions.kw["bind"].dispose()  # pending windows outside the range
    backfill = _modelmon(
        database_url,
        "backfill",
        "--model",
        "credit",
        "--from",
        "2026-11-01T00:00:00Z",
        "--to",
        "2026-11-02T00:00:00Z",
    )
    assert backfill.returncode == 0, backfill.stderr
    assert "24/24" in backfill.stderr and "24 windows evaluated" in backfill.stderr
    with unit_of_work(jobs.sessions) as session:
        revisions = dict(
            session.execute(
                select(WindowRun.window_end, func.max(WindowRun.revision)).group_by(WindowRun.window_end)
            ).all()
        )
    jobs.sessions.kw["bind"].dispose()
    assert sorted(set(revisions.values())) == [1, 2]  # the backfilled day got a second revision
    assert sum(1 for r in revisions.values() if r == 2) == 24
    unknown = _modelmon(
        database_url,
        "backfill",
        "--model",
        "ghost",
        "--from",
        "2026-11-01T00:00:00Z",
        "--to",
        "2026-11-02T00:00:00Z",
    )
    assert unknown.returncode != 0 and "ghost" in unknown.stderr
    naive = _modelmon(
        database_url, "backfill", "--model", "credit", "--from", "2026-11-01", "--to", "2026-11-02T00:00:00Z"
    )
    assert naive.returncode == 2 and "timezone" in naive.stderr
