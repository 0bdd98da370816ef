"""Isolating a unit of work, recording its failure, and when to retry it.

A unit (one model's aggregation, one window evaluation, one model's alerting) runs in a
savepoint of the job's transaction. If it raises, the savepoint is rolled back, the failure
is recorded (``job_failures``: error, attempts, retry time) and counted
(``modelmon_job_failures_total{job, model}``), and the job goes on with every other unit.
A database error is not a unit's fault and fails the whole job as before (its loop retries).

Retry backoff: 1 min after the first failure, doubling to a cap of 1 h — attempts at +1, 3,
7, 15, 31, 63 min, then hourly for as long as the unit keeps failing (a fix of the data or
the code is what ends it; nothing is dropped). The next success deletes the row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from service.failures import repository
from service.failures.schemas import FailureView
from service.kernel.instruments import count_unit_failure
from service.registry import queries as registry
from service.storage.engine_tables import JobFailure

log = logging.getLogger("modelmon.failures")

T = TypeVar("T")
P = ParamSpec("P")
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)
# A traceback's last line is what an operator needs; 2,000 characters hold any message we make.
MAX_ERROR_CHARS = 2_000


def retry_delay(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th consecutive failure: 1 min · 2^(attempts − 1), at most 1 h."""
    return min(FIRST_RETRY * (1 << min(max(attempts - 1, 0), 16)), LONGEST_RETRY)


def isolated(
    session: Session, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> tuple[T | None, Exception | None]:
    """``work(*args, **kwargs)`` in a savepoint: (its result, None), or (None, the error) with
    everything it wrote rolled back. Database errors (connection lost, lock timeout) propagate."""
    try:
        with session.begin_nested():
            return work(*args, **kwargs), None
    except OperationalError:
        raise
    except Exception as error:
        return None, error


def describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def record_failure(
    session: Session, *, job: str, model_id: int, unit: str, error: BaseException, now: datetime
) -> JobFailure:
    """Record one more failure of the unit; its retry waits ``retry_delay(attempts)``."""
    row = repository.find(session, job, model_id, unit)
    if row is None:
        row = JobFailure(job=job, model_id=model_id, unit=unit, attempts=0, first_failed_at=now)
        session.add(row)
    row.attempts += 1
    row.error, row.last_failed_at = describe(error), now
    row.retry_at = now + retry_delay(row.attempts)
    session.flush()
    name = registry.model_name(session, model_id)
    count_unit_failure(job, name)
    log.warning(
        "%s of model %r%s failed (attempt %d, retry at %s): %s",
        job, name, f" ({unit})" if unit else "", row.attempts, row.retry_at.isoformat(), row.error,
    )  # fmt: skip
    return row


def resolve(session: Session, *, job: str, model_id: int, unit: str) -> None:
    """The unit succeeded: its failure, if any, is over."""
    if repository.remove(session, job, model_id, unit):
        log.info("%s of model %s%s recovered", job, registry.model_name(session, model_id), f" ({unit})")


def model_units(session: Session, job: str, now: datetime) -> tuple[set[int], set[int]]:
    """(models whose ``job`` failed, those of them whose retry is due)."""
    failing = [row for row in repository.of_job(session, job) if row.unit == ""]
    return {row.model_id for row in failing}, {row.model_id for row in failing if row.retry_at <= now}


def settle(
    session: Session, *, job: str, now: datetime, failed: dict[int, Exception], recovered: Iterable[int]
) -> None:
    """Record the model-wide units of ``job`` that failed and resolve those that recovered."""
    for model_id, error in sorted(failed.items()):
        record_failure(session, job=job, model_id=model_id, unit="", error=error, now=now)
    for model_id in sorted(set(recovered) - set(failed)):
        resolve(session, job=job, model_id=model_id, unit="")


def window_unit(version_id: int, start: datetime, end: datetime) -> str:
    """The unit name of one window evaluation."""
    return f"version {version_id}, window {start:%Y-%m-%dT%H:%M:%SZ} to {end:%Y-%m-%dT%H:%M:%SZ}"


def views_of_model(session: Session, model_id: int) -> list[FailureView]:
    return [_view(row) for row in repository.of_model(session, model_id)]


def _view(row: JobFailure) -> FailureView:
    return FailureView(
        job=row.job,
        unit=row.unit,
        error=row.error,
        attempts=row.attempts,
        first_failed_at=row.first_failed_at,
        last_failed_at=row.last_failed_at,
        retry_at=row.retry_at,
    )
