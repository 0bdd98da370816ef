"""What other packages read of the windows domain: its progress per model and the recent runs.

Callers pass their own session; the SQL stays in `windows/repository.py`. Window runs are
handed out to be read, never changed: a revision is a new run (`windows/service.py`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from service.storage.engine_tables import WindowRun
from service.windows import repository


def pending_count(session: Session, model_id: int, due_by: datetime) -> int:
    """Windows of the model ending by ``due_by`` still wanting an evaluation."""
    return repository.pending_count(session, model_id, due_by=due_by)


def oldest_pending_end(session: Session, model_id: int, due_by: datetime) -> datetime | None:
    """End of the oldest window of the model that is due and not evaluated at its newest data."""
    return repository.oldest_pending_end(session, model_id, due_by)


def newest_run_end(session: Session, model_id: int) -> datetime | None:
    """End (UTC) of the model's newest evaluated window; None before the first."""
    return repository.newest_run_end(session, model_id)


def recent_runs(session: Session, version_id: int, limit: int) -> list[WindowRun]:
    """The latest revision of the version's ``limit`` most recent windows, newest first."""
    return repository.recent_runs(session, version_id, limit)
