"""Evaluating windows: scheduling after aggregation, claimed tasks, on-demand windows.

A window's profile is the merge of its stored pieces (``grid.pieces``); its reference is
the layout's reference profile, or for a ``trailing`` reference the window of the same
length just before it. ``figures.evaluate_window`` turns the two into figures; a run
stores them as the window's next revision.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from service.aggregation import queries as aggregation_queries
from service.aggregation.layouts import layout_of
from service.aggregation.service import PassResult
from service.failures import service as failures
from service.failures.service import isolated
from service.kernel import grid
from service.monitors.plans import ReferencePlan
from service.monitors.schemas import ReferenceKind
from service.monitors.service import load_config
from service.stats.layout import Layout
from service.stats.profile import Profile, merge_all
from service.stats.serialize import profile_from_bytes
from service.storage.engine_tables import Layout as LayoutRow
from service.storage.engine_tables import WindowRun, WindowTask
from service.windows import repository
from service.windows.figures import Figure, WindowFigures, evaluate_window
from service.windows.policy import MonitorPolicy, monitor_policy

JOB = "evaluation"  # the job name of a window evaluation in job_failures and the metric


class ProfileCache:
    """Deserialised stored profiles by (id, generation), least recently used out.

    Consecutive windows share all but one step of their pieces; a profile costs ~1 ms to
    read and decode and ~0.2 MB in memory, so 256 entries bound the cache near 50 MB.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._items: OrderedDict[tuple[int, int], Profile] = OrderedDict()
        # Parsed layouts by layout id (a layout never changes once stored; a refit is a new id).
        self.layouts: dict[int, Layout] = {}

    def get(self, key: tuple[int, int]) -> Profile | None:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: tuple[int, int], profile: Profile) -> None:
        self._items[key] = profile
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


@dataclass(frozen=True, slots=True)
class Target:
    """The layout and the policies (of the monitor configuration) a version's windows are
    evaluated with."""

    row: LayoutRow
    layout: Layout
    policy: MonitorPolicy


def schedule_touched(session: Session, result: PassResult, now: datetime, model_id: int | None = None) -> int:
    """Tasks for every window that holds a bucket the pass changed (of ``model_id`` only, when
    given); returns how many."""
    count = 0
    for version_id, buckets in result.touched.items():
        state = result.versions[version_id]
        if model_id is not None and state.model_id != model_id:
            continue
        plan = state.grid
        windows: set[grid.Window] = set()
        for bucket in buckets:
            windows.update(
                grid.windows_containing(bucket, bucket=plan.bucket, step=plan.step, window=plan.window)
            )
        horizon = now - timedelta(seconds=plan.label_wait)
        repository.schedule(
            session,
            model_id=state.model_id,
            version_id=version_id,
            windows=sorted(windows),
            generation=result.generation,
            horizon=horizon,
        )
        count += len(windows)
    return count


def schedule_each_model(session: Session, result: PassResult, now: datetime) -> int:
    """``schedule_touched`` per model, each in a unit of its own; a model whose scheduling
    raises joins ``result.failed`` (its aggregation is retried, which schedules again)."""
    count = 0
    for model_id in sorted({result.versions[v].model_id for v in result.touched}):
        scheduled, error = isolated(session, schedule_touched, session, result, now, model_id)
        if error is not None:
            result.failed[model_id] = error
            result.recovered.discard(model_id)
        count += scheduled or 0
    return count


def window_profile(
    session: Session, row: LayoutRow, layout: Layout, start: datetime, end: datetime, cache: ProfileCache
) -> Profile:
    wanted = grid.pieces(start, end, bucket=row.bucket_seconds)
    found = repository.profile_ids(session, row.id, wanted)
    profiles: dict[int, Profile] = {}
    missing = []
    for profile_id, _level, _start, generation in found:
        cached = cache.get((profile_id, generation))
        if cached is None:
            missing.append(profile_id)
        else:
            profiles[profile_id] = cached
    bodies = aggregation_queries.profile_bodies(session, missing)
    generations = {pid: gen for pid, _l, _s, gen in found}
    for profile_id, body in bodies.items():
        profile = profile_from_bytes(body)
        cache.put((profile_id, generations[profile_id]), profile)
        profiles[profile_id] = profile
    return merge_all(list(profiles.values()), layout=layout)


def reference_profile(session: Session, target: Target, start: datetime, cache: ProfileCache) -> Profile:
    reference: ReferencePlan = target.policy.binning.reference
    if reference.kind is ReferenceKind.TRAILING:
        before = start - timedelta(seconds=target.policy.grid.window)
        return window_profile(session, target.row, target.layout, before, start, cache)
    if reference.kind is ReferenceKind.RANGE and target.row.source != "range":
        # A proposed range reference (backtest) over bins fitted elsewhere: merge its pieces.
        assert reference.start is not None and reference.end is not None
        return window_profile(session, target.row, target.layout, reference.start, reference.end, cache)
    key = (-target.row.id, 0)
    cached = cache.get(key)
    if cached is None:
        cached = profile_from_bytes(target.row.reference_profile)
        cache.put(key, cached)
    return cached


def target_of(
    session: Session, model_id: int, version_id: int, cache: ProfileCache | None = None
) -> Target | None:
    row = aggregation_queries.active_layout(session, version_id)
    if row is None:
        return None
    config, _ = load_config(session, model_id)
    if cache is None:
        return Target(row, layout_of(row), monitor_policy(config))
    layout = cache.layouts.get(row.id)
    if layout is None:
        layout = cache.layouts[row.id] = layout_of(row)
    return Target(row, layout, monitor_policy(config))


def compute(
    session: Session, target: Target, window: grid.Window, now: datetime, cache: ProfileCache
) -> tuple[Profile, WindowFigures]:
    start, end = window
    profile = window_profile(session, target.row, target.layout, start, end, cache)
    reference = reference_profile(session, target, start, cache)
    final = now >= end + timedelta(seconds=target.policy.grid.label_wait)
    figures = evaluate_window(
        layout=target.layout,
        reference=reference,
        window=profile,
        policy=target.policy.evaluation,
        final=final,
    )
    return profile, figures


def figure_row(figure: Figure) -> dict[str, object]:
    return {
        "family": figure.family,
        "metric": figure.metric,
        "feature": figure.feature or "",
        "attribute": figure.attribute or "",
        "group": figure.group or "",
        "value": figure.value,
        "ci_low": figure.ci_low,
        "ci_high": figure.ci_high,
        "n": figure.n,
        "threshold": figure.threshold,
        "status": figure.status,
    }


class RunPublisher(Protocol):
    """Where a stored run goes next (alerting's queue): ``publish`` joins the transaction
    that stored the run, so the run and its publication commit or roll back together."""

    def publish(self, session: Session, run: WindowRun) -> None: ...


def evaluate_task(
    session: Session, task: WindowTask, now: datetime, cache: ProfileCache, publisher: RunPublisher
) -> WindowRun | None:
    """Evaluate one claimed task as its window's next revision, published to ``publisher``
    (None: no layout yet)."""
    target = target_of(session, task.model_id, task.version_id, cache)
    if target is None:
        return None
    _, figures = compute(session, target, (task.window_start, task.window_end), now, cache)
    run = WindowRun(
        model_id=task.model_id,
        version_id=task.version_id,
        window_start=task.window_start,
        window_end=task.window_end,
        revision=task.revision + 1,
        latest=True,
        rows=figures.rows,
        labelled=figures.labelled,
        label_coverage=figures.label_coverage,
        layout_hash=target.row.layout_hash,
        reference_hash=target.row.reference_hash,
        config_hash=target.policy.config_hash,
        computed_at=now,
    )
    repository.add_run(session, run, [figure_row(f) for f in figures.figures])
    publisher.publish(session, run)
    task.done, task.revision = task.wanted, task.revision + 1
    return run


def evaluate_due(
    session: Session,
    now: datetime,
    cache: ProfileCache,
    publisher: RunPublisher,
    limit: int = 8,
    model_id: int | None = None,
    ends: tuple[datetime, datetime] | None = None,
) -> int:
    """Claim up to ``limit`` due tasks (SKIP LOCKED; of one model and with window ends in
    (ends[0], ends[1]] when given) and evaluate them; returns how many ran.

    Due means ended, and ended before its model's ``folded_through``: a window whose last
    events another worker is still folding would be judged on part of its data; a model whose
    aggregation is behind (or held after a failure) holds back its own windows only. Each
    window is a unit of its own: one that raises is rolled back alone, recorded in
    ``job_failures`` and not claimed again before its ``retry_at`` (``service/failures``).
    """
    cutoffs = {
        model: grid.EPOCH if state.folded_through is None else min(now, state.folded_through)
        for model, state in aggregation_queries.model_progress(session).items()
    }
    tasks = repository.claim_due(session, now, limit, model_id, ends, retry_by=now, cutoffs=cutoffs)
    for task in tasks:
        run, error = isolated(session, evaluate_task, session, task, now, cache, publisher)
        if error is not None:
            _failed(session, task, error, now)
            continue
        if task.retry_at is not None:
            task.retry_at = None
            failures.resolve(session, job=JOB, model_id=task.model_id, unit=_unit(task))
        if run is None:
            task.done = task.wanted  # the layout is gone (refit): the refit re-schedules
    session.flush()
    return len(tasks)


def _unit(task: WindowTask) -> str:
    return failures.window_unit(task.version_id, task.window_start, task.window_end)


def _failed(session: Session, task: WindowTask, error: Exception, now: datetime) -> None:
    failure = failures.record_failure(
        session, job=JOB, model_id=task.model_id, unit=_unit(task), error=error, now=now
    )
    task.retry_at = failure.retry_at
