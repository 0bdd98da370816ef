"""What every background job is, and the one way its runs are timed and counted.

A job has a ``name`` (the ``job`` label of ``modelmon_job_duration_seconds``,
``modelmon_job_last_success_timestamp_seconds`` and ``modelmon_job_failures_total``) and a
``run_once`` that does one bounded piece of work and returns what it did. The six jobs:
aggregation and evaluation (``service/windows/jobs.py``), alerting, Alertmanager
(``service/alerting``), webhooks (``service/webhooks/jobs.py``), retention
(``service/privacy/jobs.py``); ``service/runner.py`` wires them into a worker.

Durations and finish times are read from the job's injected service clock, so a test that
freezes or moves the clock sees the same time in the metrics as in the rows it stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Protocol, TypeVar, runtime_checkable

from service.clock import Clock
from service.kernel.instruments import JOB_FAILURES, counting_failures, record_job

Result_co = TypeVar("Result_co", covariant=True)


@runtime_checkable
class Job(Protocol[Result_co]):
    """One kind of background work: a name and one run."""

    @property
    def name(self) -> str: ...

    def run_once(self) -> Result_co: ...


class JobTiming:
    """Records the runs of the job ``name`` on ``clock``: a success's duration (seconds) and
    finish time (Unix seconds), a failure's count."""

    def __init__(self, name: str, clock: Clock) -> None:
        self.name, self.clock = name, clock

    def start(self) -> datetime:
        return self.clock()

    def elapsed(self, since: datetime) -> float:
        """Seconds from ``since`` to now on the clock; 0 if a test moved the clock back."""
        return max((self.clock() - since).total_seconds(), 0.0)

    def succeeded(self, seconds: float) -> None:
        """One successful run that worked for ``seconds``, finished now."""
        record_job(self.name, seconds, self.clock().timestamp())

    def failed(self) -> None:
        """One run that failed without raising (it logged why)."""
        JOB_FAILURES.labels(job=self.name, model="").inc()

    @contextmanager
    def counting_failures(self) -> Iterator[None]:
        """Count a run that raises inside the block (and re-raise: the caller's loop retries)."""
        with counting_failures(self.name):
            yield

    @contextmanager
    def run(self) -> Iterator[None]:
        """The usual run: a raise is counted, a return is a success timed from the block's start."""
        started = self.start()
        with self.counting_failures():
            yield
        self.succeeded(self.elapsed(started))
