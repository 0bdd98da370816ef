"""What other packages read of the windows domain: the progress of each model's windows, the
recent runs and their stored figures (the monitor view, model cards, status pages, /metrics).

Callers pass their own session; the SQL stays in `windows/repository.py`. Figures are handed
out to be read, never changed: a revision is a new run (`windows/service.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from service.storage.engine_tables import Evaluation, WindowRun
from service.windows import repository
from service.windows.repository import FigureRecord
from service.windows.slices import default_search as window_slices

__all__ = [
    "FigureRecord",
    "RunSummary",
    "due_backlog",
    "figure_records",
    "figures_of_runs",
    "last_windows",
    "newest_run_computed_at",
    "newest_run_end",
    "oldest_due_window_ends",
    "oldest_pending_end",
    "pending_count",
    "recent_runs",
    "window_slices",
]


def pending_count(session: Session, model_id: int, due_by: datetime) -> int:
    """Windows of the model ending by ``due_by`` still wanting an evaluation."""
    return repository.pending_count(session, model_id, due_by=due_by)


def oldest_pending_end(session: Session, model_id: int, due_by: datetime) -> datetime | None:
    """End of the oldest window of the model that is due and not evaluated at its newest data."""
    return repository.oldest_pending_end(session, model_id, due_by)


def newest_run_end(session: Session, model_id: int) -> datetime | None:
    """End (UTC) of the model's newest evaluated window; None before the first."""
    return repository.newest_run_end(session, model_id)


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One evaluated window at its latest revision: times UTC, ``rows`` predictions of which
    ``labelled`` have an outcome; ``label_coverage`` is labelled / rows when computed."""

    id: int
    window_start: datetime
    window_end: datetime
    revision: int
    rows: int
    labelled: int
    label_coverage: float | None
    computed_at: datetime
    reference_hash: str


def _summary(run: WindowRun) -> RunSummary:
    return RunSummary(
        run.id, run.window_start, run.window_end, run.revision, run.rows, run.labelled,
        run.label_coverage, run.computed_at, run.reference_hash,
    )  # fmt: skip


def recent_runs(session: Session, version_id: int, limit: int) -> list[RunSummary]:
    """The latest revision of the version's ``limit`` most recent windows, newest first (one query)."""
    return [_summary(run) for run in repository.recent_runs(session, version_id, limit)]


def figures_of_runs(
    session: Session, run_ids: Sequence[int], families: Sequence[str]
) -> dict[int, list[Evaluation]]:
    """Stored figures of ``families`` per run (every run id a key), in the order they were stored;
    one query per 2,000 runs. The rows are read, never changed."""
    return repository.figures_of_runs(session, run_ids, families)


def last_windows(session: Session) -> dict[int, tuple[datetime, datetime]]:
    """Per model id, (start, end) of its newest evaluated window (one query)."""
    return repository.last_windows(session)


def due_backlog(session: Session, now: datetime) -> tuple[int, datetime | None]:
    """(windows ended by ``now`` still waiting for evaluation, the oldest one's end); one query."""
    return repository.due_backlog(session, now)


def figure_records(
    session: Session, run_ids: Sequence[int], wanted: Sequence[tuple[str, Sequence[str] | None]]
) -> list[FigureRecord]:
    """The stored figures of ``run_ids`` whose family is in ``wanted`` with one of its metrics
    (None: any metric), as named tuples (one query; a page reads ~3,000)."""
    return repository.figure_records(session, run_ids, wanted)


def oldest_due_window_ends(session: Session, now: datetime) -> dict[int, datetime]:
    """Per model id, the end of its oldest window ended by ``now`` and still waiting (one query)."""
    return repository.oldest_due_window_ends(session, now)


def newest_run_computed_at(session: Session) -> datetime | None:
    """When the newest window run of any model was computed (a primary-key probe)."""
    return repository.newest_run_computed_at(session)
