"""What other packages read and change of the recorded job failures.

Callers pass their own session (the request's or the job's one transaction); the SQL stays
in `failures/repository.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from service.failures import repository
from service.registry import queries as registry


@dataclass(frozen=True, slots=True)
class RecentFailure:
    """One failing unit of work, named by its model; ``retry_at`` is UTC."""

    model: str
    job: str
    unit: str
    error: str
    attempts: int
    retry_at: datetime


def newest(session: Session, limit: int) -> list[RecentFailure]:
    """The ``limit`` most recently failed units of every model, newest first (two queries).

    ``job_failures`` rows go with their model (``ON DELETE CASCADE``), so every row has a name.
    """
    rows = repository.newest(session, limit)
    names = registry.model_names(session, sorted({row.model_id for row in rows}))
    return [
        RecentFailure(names[row.model_id], row.job, row.unit, row.error, row.attempts, row.retry_at)
        for row in rows
        if row.model_id in names
    ]


def retry_now(session: Session, model_id: int, now: datetime) -> int:
    """Make every failed unit of the model (and its held window tasks) due at ``now``; returns
    how many failed units there were."""
    return repository.retry_now(session, model_id, now)
