"""SQL of window tasks, window runs and their figures (``evaluations``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, case, func, insert, literal, or_, select, tuple_, update
from sqlalchemy.orm import Session

from service.kernel.states import FigureStatus
from service.storage.claim import skip_locked
from service.storage.dialect import insert_or_update
from service.storage.engine_tables import BucketProfile, Evaluation, WindowRun, WindowTask

Window = tuple[datetime, datetime]


# Ids per IN (...) look-up: under SQLite's 32,766 bound-parameter limit.
RUN_IDS_PER_QUERY = 2_000


def schedule(
    session: Session,
    *,
    model_id: int,
    version_id: int,
    windows: Iterable[Window],
    generation: int,
    horizon: datetime,
) -> None:
    """Ask for (re-)evaluation: new windows always; known ones only if they end after ``horizon``."""
    rows = [
        {
            "model_id": model_id,
            "version_id": version_id,
            "window_start": start,
            "window_end": end,
            "wanted": generation,
            "done": 0,
            "revision": 0,
        }
        for start, end in windows
    ]
    if not rows:
        return
    key = ["version_id", "window_start", "window_end"]
    statement = insert_or_update(session, WindowTask, key, ["wanted"], WindowTask.window_end > horizon)
    for i in range(0, len(rows), 1000):
        session.execute(statement, rows[i : i + 1000])


def reopen(session: Session, version_id: int, windows: Sequence[Window]) -> None:
    """Make up-to-date windows pending again (``wanted`` = ``done`` + 1), 500 per statement."""
    for i in range(0, len(windows), 500):
        chunk = [tuple_(start, end) for start, end in windows[i : i + 500]]
        session.execute(
            update(WindowTask)
            .where(
                WindowTask.version_id == version_id,
                tuple_(WindowTask.window_start, WindowTask.window_end).in_(chunk),
                WindowTask.wanted <= WindowTask.done,
            )
            .values(wanted=WindowTask.done + 1)
        )


def claim_due(
    session: Session,
    now: datetime,
    limit: int,
    model_id: int | None = None,
    ends: tuple[datetime, datetime] | None = None,
    retry_by: datetime | None = None,
    cutoffs: Mapping[int, datetime] | None = None,
) -> list[WindowTask]:
    """Due tasks not yet done, oldest first, locked ``FOR UPDATE SKIP LOCKED`` for this
    transaction; a task whose evaluation failed waits until its ``retry_at`` (≤ ``retry_by``).
    ``cutoffs``: model id → the latest window end due for that model (others: ``now``)."""
    retry_by = now if retry_by is None else retry_by
    query = (
        select(WindowTask)
        .where(WindowTask.wanted > WindowTask.done, WindowTask.window_end <= now)
        .where(or_(WindowTask.retry_at.is_(None), WindowTask.retry_at <= retry_by))
        .order_by(WindowTask.window_end, WindowTask.id)
        .limit(limit)
    )
    if model_id is not None:
        query = query.where(WindowTask.model_id == model_id)
    if ends is not None:
        query = query.where(WindowTask.window_end > ends[0], WindowTask.window_end <= ends[1])
    if cutoffs:
        query = query.where(WindowTask.window_end <= _cutoff_of_model(cutoffs, now))
    return list(session.execute(skip_locked(query)).scalars())


def _cutoff_of_model(cutoffs: Mapping[int, datetime], default: datetime) -> Any:
    """``CASE model_id WHEN m THEN cutoff … ELSE default END``, typed as the window end column
    (SQLite compares the stored text form)."""
    kind = WindowTask.window_end.type
    whens = {model: literal(at, kind) for model, at in cutoffs.items()}
    return case(whens, value=WindowTask.model_id, else_=literal(default, kind))


def pending_count(session: Session, model_id: int | None = None, due_by: datetime | None = None) -> int:
    query = select(func.count()).select_from(WindowTask).where(WindowTask.wanted > WindowTask.done)
    if model_id is not None:
        query = query.where(WindowTask.model_id == model_id)
    if due_by is not None:
        query = query.where(WindowTask.window_end <= due_by)
    return int(session.execute(query).scalar_one())


def profile_ids(
    session: Session, layout_id: int, wanted: dict[int, list[datetime]]
) -> list[tuple[int, int, datetime, int]]:
    """(id, level, start, generation) of the stored profiles among ``wanted`` level → starts."""
    found: list[tuple[int, int, datetime, int]] = []
    for level, starts in wanted.items():
        for i in range(0, len(starts), 500):
            query = select(
                BucketProfile.id, BucketProfile.level, BucketProfile.start, BucketProfile.generation
            ).where(
                BucketProfile.layout_id == layout_id,
                BucketProfile.level == level,
                BucketProfile.start.in_(starts[i : i + 500]),
            )
            found.extend((int(a), int(b), c, int(d)) for a, b, c, d in session.execute(query))
    return found


def add_run(session: Session, run: WindowRun, figures: Sequence[dict[str, Any]]) -> WindowRun:
    """Store a run as the window's latest revision, with its figures."""
    session.execute(
        update(WindowRun)
        .where(
            WindowRun.version_id == run.version_id,
            WindowRun.window_start == run.window_start,
            WindowRun.window_end == run.window_end,
            WindowRun.latest.is_(True),
        )
        .values(latest=False)
    )
    session.add(run)
    session.flush()
    if figures:
        session.execute(insert(Evaluation), [{"run_id": run.id, **f} for f in figures])
    return run


@dataclass(frozen=True, slots=True)
class EvaluationFilter:
    model_id: int
    version_id: int | None = None
    family: str | None = None
    metric: str | None = None
    feature: str | None = None
    attribute: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    all_revisions: bool = False


def _filtered(query: Select[Any], where: EvaluationFilter) -> Select[Any]:
    query = query.where(WindowRun.model_id == where.model_id)
    if not where.all_revisions:
        query = query.where(WindowRun.latest.is_(True))
    if where.version_id is not None:
        query = query.where(WindowRun.version_id == where.version_id)
    if where.start is not None:
        query = query.where(WindowRun.window_end > where.start)
    if where.end is not None:
        query = query.where(WindowRun.window_end <= where.end)
    for column, value in (
        (Evaluation.family, where.family),
        (Evaluation.metric, where.metric),
        (Evaluation.feature, where.feature),
        (Evaluation.attribute, where.attribute),
    ):
        if value is not None:
            query = query.where(column == value)
    return query


def evaluations(
    session: Session, where: EvaluationFilter, *, limit: int, offset: int
) -> list[tuple[Evaluation, WindowRun]]:
    """Figures with their run, by window end, then revision and figure order."""
    query: Select[Any] = select(Evaluation, WindowRun)  # type: ignore[assignment]
    query = query.join(WindowRun, WindowRun.id == Evaluation.run_id)
    query = _filtered(query, where).order_by(WindowRun.window_end, WindowRun.id, Evaluation.id)
    rows = session.execute(query.limit(limit).offset(offset)).all()
    return [(row[0], row[1]) for row in rows]


def oldest_pending_end(session: Session, model_id: int, due_by: datetime) -> datetime | None:
    """End of the oldest window of the model that is due and not evaluated at its newest data."""
    query = select(func.min(WindowTask.window_end)).where(
        WindowTask.model_id == model_id, WindowTask.wanted > WindowTask.done, WindowTask.window_end <= due_by
    )
    result: datetime | None = session.execute(query).scalar_one_or_none()
    return result


def newest_run_end(session: Session, model_id: int) -> datetime | None:
    query = select(func.max(WindowRun.window_end)).where(WindowRun.model_id == model_id)
    result: datetime | None = session.execute(query).scalar_one_or_none()
    return result


def next_window_end(session: Session, after: datetime) -> datetime | None:
    """The soonest end, after ``after``, of a window waiting for evaluation (uses ix_window_tasks_due)."""
    query = select(func.min(WindowTask.window_end)).where(
        WindowTask.window_end > after, WindowTask.wanted > WindowTask.done
    )
    result: datetime | None = session.execute(query).scalar_one_or_none()
    return result


def recent_runs(session: Session, version_id: int, limit: int) -> list[WindowRun]:
    """The latest revision of the version's ``limit`` most recent windows, newest first."""
    query = (
        select(WindowRun)
        .where(WindowRun.version_id == version_id, WindowRun.latest.is_(True))
        .order_by(WindowRun.window_end.desc(), WindowRun.window_start.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def runs_inside(session: Session, version_id: int, start: datetime, end: datetime) -> list[WindowRun]:
    """The latest revision of the version's windows inside [start, end], oldest first."""
    query = (
        select(WindowRun)
        .where(
            WindowRun.version_id == version_id,
            WindowRun.latest.is_(True),
            WindowRun.window_start >= start,
            WindowRun.window_end <= end,
        )
        .order_by(WindowRun.window_end, WindowRun.window_start)
    )
    return list(session.scalars(query))


def breaches_inside(
    session: Session, version_id: int, start: datetime, end: datetime, limit: int
) -> tuple[int, list[tuple[Evaluation, WindowRun]]]:
    """(how many, the first ``limit``) figures with status alert in the latest revision of the
    version's windows inside [start, end], by window end then figure order."""
    inside = and_(
        WindowRun.version_id == version_id,
        WindowRun.latest.is_(True),
        WindowRun.window_start >= start,
        WindowRun.window_end <= end,
        Evaluation.status == FigureStatus.ALERT,
    )
    joined = select(Evaluation, WindowRun).join(WindowRun, WindowRun.id == Evaluation.run_id).where(inside)
    total = session.execute(
        select(func.count())
        .select_from(Evaluation)
        .join(WindowRun, WindowRun.id == Evaluation.run_id)
        .where(inside)
    ).scalar_one()
    rows = session.execute(joined.order_by(WindowRun.window_end, Evaluation.id).limit(limit)).all()
    return int(total), [(row[0], row[1]) for row in rows]


def figures_of_runs(
    session: Session, run_ids: Sequence[int], families: Sequence[str]
) -> dict[int, list[Evaluation]]:
    """Figures of ``families`` per run, in the order they were stored (chunks of 2,000 run ids)."""
    found: dict[int, list[Evaluation]] = {run_id: [] for run_id in run_ids}
    for start in range(0, len(run_ids), RUN_IDS_PER_QUERY):
        query = (
            select(Evaluation)
            .where(
                Evaluation.run_id.in_(run_ids[start : start + RUN_IDS_PER_QUERY]),
                Evaluation.family.in_(families),
            )
            .order_by(Evaluation.id)
        )
        for figure in session.scalars(query):
            found[int(figure.run_id)].append(figure)
    return found


# ---------------------------------------------------------------- status pages


class FigureRecord(NamedTuple):
    """A row of the charted figures (a named tuple: pages read ~3,000 of them, built in C)."""

    run_id: int
    family: str
    metric: str
    feature: str
    attribute: str
    group: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    threshold: float | None
    status: str


def last_windows(session: Session) -> dict[int, tuple[datetime, datetime]]:
    """Per model, (start, end) of its newest evaluated window."""
    newest = (
        select(WindowRun.model_id, func.max(WindowRun.window_end).label("end"))
        .group_by(WindowRun.model_id)
        .subquery()
    )
    rows = session.execute(
        select(WindowRun.model_id, func.max(WindowRun.window_start), newest.c.end)
        .join(newest, and_(newest.c.model_id == WindowRun.model_id, newest.c.end == WindowRun.window_end))
        .group_by(WindowRun.model_id, newest.c.end)
    ).all()
    return {int(model_id): (start, end) for model_id, start, end in rows}


def due_backlog(session: Session, now: datetime) -> tuple[int, datetime | None]:
    """(windows ended by ``now`` and waiting for evaluation, the oldest one's end)."""
    waiting, oldest = session.execute(
        select(func.count(), func.min(WindowTask.window_end)).where(
            WindowTask.wanted > WindowTask.done, WindowTask.window_end <= now
        )
    ).one()
    return int(waiting), oldest


def figure_records(
    session: Session, run_ids: Sequence[int], wanted: Sequence[tuple[str, Sequence[str] | None]]
) -> list[FigureRecord]:
    """The figures of the given runs whose (family, metric) is wanted: ``wanted`` pairs a family
    with its metrics, or with None for every metric of it."""
    if not run_ids:
        return []
    chosen = or_(
        *(
            Evaluation.family == family
            if metrics is None
            else and_(Evaluation.family == family, Evaluation.metric.in_(metrics))
            for family, metrics in wanted
        )
    )
    query = select(
        Evaluation.run_id,
        Evaluation.family,
        Evaluation.metric,
        Evaluation.feature,
        Evaluation.attribute,
        Evaluation.group,
        Evaluation.value,
        Evaluation.ci_low,
        Evaluation.ci_high,
        Evaluation.n,
        Evaluation.threshold,
        Evaluation.status,
    ).where(Evaluation.run_id.in_(list(run_ids)), chosen)
    # Core rows, not ORM ones: half the cost at ~3,000 rows, and nothing here is an entity.
    return [FigureRecord._make(row) for row in session.connection().execute(query).all()]


def oldest_due_window_ends(session: Session, now: datetime) -> dict[int, datetime]:
    """Per model, the end of the oldest due window still waiting for evaluation."""
    query = (
        select(WindowTask.model_id, func.min(WindowTask.window_end))
        .where(WindowTask.wanted > WindowTask.done, WindowTask.window_end <= now)
        .group_by(WindowTask.model_id)
    )
    return {int(m): end for m, end in session.execute(query)}


def newest_run_computed_at(session: Session) -> datetime | None:
    query = select(WindowRun.computed_at).order_by(WindowRun.id.desc()).limit(1)
    result: datetime | None = session.execute(query).scalar_one_or_none()
    return result
