"""A job run that fails is counted in modelmon_job_failures_total under its job's name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from service.alerting.jobs import AlertingJob
from service.clock import frozen_clock
from service.config import Settings
from service.privacy.jobs import RetentionJob
from service.runner import Pipeline
from service.storage.database import create_session_factory
from tests.conftest import NOW


def failures(job: str) -> float:
    return REGISTRY.get_sample_value("modelmon_job_failures_total", {"job": job, "model": ""}) or 0.0


def test_jobs_that_cannot_reach_their_database_are_counted_as_failures(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing' / 'modelmon.db'}"
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    settings, clock = Settings(database_url=url, run_jobs=False), frozen_clock(NOW)
    runs: dict[str, Callable[[], object]] = {
        "evaluation": Pipeline(sessions, settings, clock).evaluate_once,
        "alerting": AlertingJob(sessions, settings, clock).run_once,
        "retention": lambda: RetentionJob(sessions, clock, 90).run(NOW),
    }
    try:
        for job, run in runs.items():
            before = failures(job)
            with pytest.raises(OperationalError):
                run()
            assert failures(job) == before + 1, job
    finally:
        engine.dispose()
