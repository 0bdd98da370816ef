"""SQL of ``job_failures``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from service.storage.engine_tables import JobFailure, WindowTask


def find(session: Session, job: str, model_id: int, unit: str) -> JobFailure | None:
    query = select(JobFailure).where(
        JobFailure.job == job, JobFailure.model_id == model_id, JobFailure.unit == unit
    )
    return session.scalars(query).one_or_none()


def remove(session: Session, job: str, model_id: int, unit: str) -> bool:
    result = session.execute(
        delete(JobFailure).where(
            JobFailure.job == job, JobFailure.model_id == model_id, JobFailure.unit == unit
        )
    )
    return bool(getattr(result, "rowcount", 0))


def of_job(session: Session, job: str) -> list[JobFailure]:
    return list(session.scalars(select(JobFailure).where(JobFailure.job == job).order_by(JobFailure.id)))


def of_model(session: Session, model_id: int) -> list[JobFailure]:
    query = select(JobFailure).where(JobFailure.model_id == model_id).order_by(JobFailure.first_failed_at)
    return list(session.scalars(query))


def waiting_models(session: Session, job: str, now: datetime) -> set[int]:
    """Models with a failure of ``job`` (model-wide unit "") whose retry is not due yet."""
    query = select(JobFailure.model_id).where(
        JobFailure.job == job, JobFailure.unit == "", JobFailure.retry_at > now
    )
    return set(session.scalars(query))


def newest(session: Session, limit: int) -> list[JobFailure]:
    """The most recently failed units of every model."""
    query = select(JobFailure).order_by(JobFailure.last_failed_at.desc(), JobFailure.id.desc()).limit(limit)
    return list(session.scalars(query))


def retry_now(session: Session, model_id: int, now: datetime) -> int:
    """Make every failed unit of the model due at ``now``; returns how many there were."""
    result = session.execute(update(JobFailure).where(JobFailure.model_id == model_id).values(retry_at=now))
    session.execute(
        update(WindowTask)
        .where(WindowTask.model_id == model_id, WindowTask.retry_at.is_not(None))
        .values(retry_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)
