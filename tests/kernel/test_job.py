"""Every worker job is a ``Job`` named by its metric label, wired once by the runner, and timed
on the injected service clock (not the process's own)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import FastAPI
from prometheus_client import REGISTRY

from service.kernel.job import Job
from service.privacy.jobs import RetentionJob
from service.runner import Runner
from tests.conftest import NOW

STEP = timedelta(seconds=1.5)


class TickingClock:
    """Moves ``STEP`` forward on every reading."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        self.at += STEP
        return self.at


def _sample(name: str, job: str) -> float:
    return REGISTRY.get_sample_value(name, {"job": job}) or 0.0


def test_the_runner_wires_six_jobs_named_by_their_metric_label(app: FastAPI) -> None:
    context = app.state.context
    runner = Runner(context.sessions, context.settings, context.clock)
    try:
        pipeline = runner.pipeline
        jobs = (
            pipeline.aggregation, pipeline.evaluation, pipeline.alerting, pipeline.alertmanager,
            runner.deliverer, runner.retention,
        )  # fmt: skip
        assert all(isinstance(job, Job) for job in jobs)
        names = [job.name for job in jobs]
        assert names == ["aggregation", "evaluation", "alerting", "alertmanager", "webhooks", "retention"]
        assert pipeline.evaluation.publisher is pipeline.alerting  # stored runs reach alerting's queue
        assert pipeline.evaluation.cache is pipeline.aggregation.cache
    finally:
        runner.close()


def test_a_run_is_timed_on_the_injected_clock(app: FastAPI) -> None:
    clock = TickingClock(NOW)
    job = RetentionJob(app.state.context.sessions, clock, retention_days=90)
    count = _sample("modelmon_job_duration_seconds_count", "retention")
    total = _sample("modelmon_job_duration_seconds_sum", "retention")
    assert job.run(NOW) == (0, 0)
    # Three readings: the start, the end (one STEP later), the finish time recorded.
    assert _sample("modelmon_job_duration_seconds_count", "retention") == count + 1
    assert _sample("modelmon_job_duration_seconds_sum", "retention") - total == STEP.total_seconds()
    finished = (NOW + 3 * STEP).timestamp()
    assert _sample("modelmon_job_last_success_timestamp_seconds", "retention") == finished
