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

from service.kernel import grid
from service.stats.aggregates import BinaryCounts
from service.storage.engine_tables import Evaluation, WindowRun
from service.windows import repository
from service.windows.figures import Figure
from service.windows.figures_fairness import INTERSECTION_JOIN, groupings, named_groups
from service.windows.repository import FigureRecord
from service.windows.service import ProfileCache, compute, target_of
from service.windows.slices import default_search as window_slices

__all__ = [
    "FigureRecord",
    "PeriodFigures",
    "RunSummary",
    "breaches_inside",
    "bucket_seconds",
    "due_backlog",
    "figure_records",
    "figures_of_runs",
    "last_windows",
    "newest_run_computed_at",
    "newest_run_end",
    "oldest_due_window_ends",
    "oldest_pending_end",
    "pending_count",
    "period_figures",
    "period_runs",
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


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """The figures of one version over ``window`` (on the bucket grid), computed now from the
    merged bucket profiles exactly as ``POST …/evaluate`` computes a window's; ``groups`` holds
    each attribute's (and intersection's) binary counts per group, keyed as the figures name
    them; ``confidence`` is the monitor's (per-group intervals are at it)."""

    window: grid.Window
    bucket_seconds: int
    rows: int
    labelled: int
    label_coverage: float | None
    figures: tuple[Figure, ...]
    groups: dict[str, dict[str, BinaryCounts]]
    confidence: float
    reference_hash: str


def period_figures(
    session: Session, model_id: int, version_id: int, window: grid.Window, now: datetime
) -> PeriodFigures | None:
    """The version's figures over ``window`` (both ends on its bucket grid); None before the
    version has bins. Cost: one merge of the stored pieces (``grid.pieces``), not of rows."""
    target = target_of(session, model_id, version_id)
    if target is None:
        return None
    profile, figures = compute(session, target, window, now, ProfileCache(64))
    groups: dict[str, dict[str, BinaryCounts]] = {}
    for attributes in groupings(target.layout):
        named = named_groups(profile, attributes)
        groups[INTERSECTION_JOIN.join(attributes)] = {
            g: o.binary for g, o in named.items() if o.binary is not None
        }
    return PeriodFigures(
        window, target.row.bucket_seconds, figures.rows, figures.labelled, figures.label_coverage,
        figures.figures, groups, target.policy.evaluation.confidence, target.row.reference_hash,
    )  # fmt: skip


def bucket_seconds(session: Session, model_id: int, version_id: int) -> int | None:
    """The bucket of the version's active layout (None before it has bins)."""
    target = target_of(session, model_id, version_id)
    return None if target is None else target.row.bucket_seconds


def period_runs(session: Session, version_id: int, window: grid.Window) -> list[RunSummary]:
    """The latest revision of the version's stored windows lying inside ``window``, oldest first."""
    return [_summary(run) for run in repository.runs_inside(session, version_id, window[0], window[1])]


def breaches_inside(
    session: Session, version_id: int, window: grid.Window, limit: int
) -> tuple[int, list[tuple[RunSummary, FigureRecord]]]:
    """(how many, the first ``limit``) stored figures with status alert in the latest revision
    of the version's windows inside ``window``, by window end (one count, one read)."""
    total, rows = repository.breaches_inside(session, version_id, window[0], window[1], limit)
    return total, [(_summary(run), _record(row)) for row, run in rows]


def _record(row: Evaluation) -> FigureRecord:
    return FigureRecord(
        run_id=row.run_id, family=row.family, metric=row.metric, feature=row.feature,
        attribute=row.attribute, group=row.group, value=row.value, ci_low=row.ci_low,
        ci_high=row.ci_high, n=row.n, threshold=row.threshold, status=row.status,
    )  # fmt: skip
