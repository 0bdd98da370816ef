"""Building the compliance report of a model over a period from what is stored (rendered by
``compliance_html``; docs/reports.md). Nothing here writes: one read-only transaction."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from service import __version__
from service.alerting import incident_queries
from service.alerting import queries as alerting
from service.alerting.incident_schemas import IncidentView
from service.alerting.schemas import AlertView
from service.audit import queries as audit
from service.audit.service import Action
from service.kernel import grid
from service.registry.service import RegisteredModel, VersionSpec, load_model, pick_version
from service.reports.compliance_tables import Shown, VersionTables, version_tables
from service.windows import queries as windows

Listed = TypeVar("Listed", AlertView, IncidentView)

# Longest period of one report: a year (a quarterly or annual filing); the cost is a merge of
# stored profiles, not of rows, so this bounds only the lists (windows, alerts).
MAX_PERIOD = timedelta(days=366)
# Lists are bounded; the report says when a list was cut.
MAX_ALERTS = 500
MAX_INCIDENTS = 200
MAX_BREACHES = 5_000
MAX_REQUESTS = 100
MAX_HISTORY = 200
# A first configuration lists every setting (~70 leaves today).
MAX_CHANGES_PER_EVENT = 200
HISTORY_ACTIONS = (Action.MONITOR_CHANGED, Action.MODEL_REGISTERED, Action.REFERENCE_UPLOADED)
THRESHOLD_FAMILIES = ("performance", "estimated_performance")


@dataclass(frozen=True, slots=True)
class Breach:
    """One monitored figure that alerted in ``windows`` stored windows of the period."""

    family: str
    metric: str
    subject: str
    windows: int
    first_end: datetime
    last_end: datetime
    worst: float | None
    threshold: float | None
    hidden: bool = False  # the worst value withheld: the period's disparities of it are suppressed


@dataclass(frozen=True, slots=True)
class Coverage:
    """Label coverage (labelled / rows) over the stored windows of the period."""

    windows: int
    lowest: float | None
    median: float | None
    highest: float | None


@dataclass(frozen=True, slots=True)
class VersionSection:
    version: str
    window: grid.Window | None  # the period on the version's bucket grid; None without bins
    rows: int
    labelled: int
    label_coverage: float | None
    reference_hash: str | None
    tables: VersionTables | None
    thresholds: tuple[Shown, ...]
    coverage: Coverage
    breaches: tuple[Breach, ...]
    breach_figures: int
    requests: tuple[alerting.RetrainRecord, ...]


@dataclass(frozen=True, slots=True)
class ConfigChange:
    at: datetime
    actor: str
    actor_name: str
    action: str
    target: str
    changes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ComplianceReport:
    model: str
    start: datetime
    end: datetime
    generated_at: datetime
    modelmon_version: str
    min_cell: int
    retention_days: int
    versions: tuple[VersionSection, ...]
    incidents: tuple[IncidentView, ...]
    incidents_cut: bool
    alerts: tuple[AlertView, ...]
    alerts_cut: bool
    history: tuple[ConfigChange, ...]
    history_cut: bool

    @property
    def hidden_cells(self) -> int:
        return sum(v.tables.hidden_cells for v in self.versions if v.tables is not None)


@dataclass(frozen=True, slots=True)
class ReportRequest:
    start: datetime
    end: datetime
    version: str | None
    min_cell: int
    retention_days: int


def snapped(start: datetime, end: datetime, bucket: int) -> grid.Window:
    """[start, end) widened to the bucket grid: start floored, end ceiled."""
    low = grid.floor(start, bucket)
    high = end if grid.is_aligned(end, bucket) else grid.floor(end, bucket) + timedelta(seconds=bucket)
    return low, high


def _subject(feature: str, attribute: str, group: str) -> str:
    return "=".join(p for p in (feature or attribute, group) if p) or "—"


def _breaches(session: Session, spec: VersionSpec, window: grid.Window) -> tuple[tuple[Breach, ...], int]:
    """Stored alert-status figures of the period, one line per monitored figure."""
    total, rows = windows.breaches_inside(session, spec.version_id, window, MAX_BREACHES)
    lines: dict[tuple[str, str, str], Breach] = {}
    for run, f in rows:
        key = (f.family, f.metric, _subject(f.feature, f.attribute, f.group))
        seen = lines.get(key)
        worse = f.value if seen is None or seen.worst is None else _worse(seen.worst, f.value, f.threshold)
        lines[key] = Breach(
            *key,
            windows=1 if seen is None else seen.windows + 1,
            first_end=run.window_end if seen is None else seen.first_end,
            last_end=run.window_end,
            worst=worse,
            threshold=f.threshold,
        )
    return tuple(lines.values()), total


def _withheld(breaches: tuple[Breach, ...], tables: VersionTables) -> tuple[Breach, ...]:
    """A window's disparity could give away what the period's table suppressed (a max − min
    beside a published rate is the other rate): its value goes where the table's went."""
    unsafe = {t.attribute for t in tables.fairness if any(d.hidden for d in t.disparities)}
    return tuple(
        replace(b, worst=None, hidden=True) if b.family == "fairness" and b.subject in unsafe else b
        for b in breaches
    )


def _worse(old: float, new: float | None, threshold: float | None) -> float:
    """The value further from the threshold (the larger without one)."""
    if new is None:
        return old
    if threshold is None:
        return max(old, new)
    return new if abs(new - threshold) > abs(old - threshold) else old


def _coverage(session: Session, spec: VersionSpec, window: grid.Window) -> Coverage:
    runs = windows.period_runs(session, spec.version_id, window)
    values = [r.label_coverage for r in runs if r.label_coverage is not None]
    if not values:
        return Coverage(len(runs), None, None, None)
    return Coverage(len(runs), min(values), statistics.median(values), max(values))


def _thresholds(tables: VersionTables) -> tuple[Shown, ...]:
    """Every figure of the period with a threshold: performance, then each attribute's disparities."""
    overall = [c for c in (*tables.performance, *tables.estimated) if c.threshold is not None]
    fairness = [d for t in tables.fairness for d in t.disparities if d.threshold is not None]
    return tuple(overall + fairness)


def _section(
    session: Session, model: RegisteredModel, spec: VersionSpec, request: ReportRequest, now: datetime
) -> VersionSection:
    requests = tuple(
        alerting.version_retrain_requests(
            session, spec.version_id, MAX_REQUESTS, (request.start, request.end)
        )
    )
    bucket = windows.bucket_seconds(session, model.model_id, spec.version_id)
    period = None
    if bucket is not None:
        window = snapped(request.start, request.end, bucket)
        period = windows.period_figures(session, model.model_id, spec.version_id, window, now)
    if period is None:
        empty = Coverage(0, None, None, None)
        return VersionSection(spec.version, None, 0, 0, None, None, None, (), empty, (), 0, requests)
    tables = version_tables(period, request.min_cell)
    breaches, count = _breaches(session, spec, period.window)
    breaches = _withheld(breaches, tables)
    return VersionSection(
        spec.version, period.window, period.rows, period.labelled, period.label_coverage,
        period.reference_hash, tables, _thresholds(tables), _coverage(session, spec, period.window),
        breaches, count, requests,
    )  # fmt: skip


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def changes(before: Any, after: Any) -> tuple[str, ...]:
    """``path: old → new`` for every leaf that differs (lists compared whole), sorted by path."""
    old, new = _flatten(before or {}), _flatten(after or {})
    lines = [
        f"{path}: {_json(old.get(path))} → {_json(new.get(path))}"
        for path in sorted(old.keys() | new.keys())
        if old.get(path) != new.get(path)
    ]
    if len(lines) > MAX_CHANGES_PER_EVENT:
        lines = [*lines[:MAX_CHANGES_PER_EVENT], f"… {len(lines) - MAX_CHANGES_PER_EVENT} more"]
    return tuple(lines)


def _json(value: Any) -> str:
    return "—" if value is None else str(value)


def _history(
    session: Session, model: RegisteredModel, end: datetime
) -> tuple[tuple[ConfigChange, ...], bool]:
    """The ``MAX_HISTORY`` newest configuration events up to ``end``, oldest first, and whether
    older ones were left out (one more is read to know)."""
    targets = [("model", model.name)] + [("model", f"{model.name}@{v}") for v in model.versions]
    actions = [a.value for a in HISTORY_ACTIONS]
    events = []
    for target in targets:
        events += audit.events_about(session, target, actions, end, MAX_HISTORY + 1)
    events.sort(key=lambda e: e.id)
    kept = tuple(
        ConfigChange(e.at, e.actor, e.actor_name, e.action, e.target, changes(e.before, e.after))
        for e in events[-MAX_HISTORY:]
    )
    return kept, len(events) > MAX_HISTORY


def _alerts(session: Session, model_id: int, request: ReportRequest) -> tuple[tuple[AlertView, ...], bool]:
    page = alerting.alerts_about(session, model_id, (request.start, request.end), MAX_ALERTS + 1)
    return _newest(page.items, MAX_ALERTS)


def _incidents(
    session: Session, model_id: int, request: ReportRequest
) -> tuple[tuple[IncidentView, ...], bool]:
    period = (request.start, request.end)
    page = incident_queries.incidents_about(session, model_id, period, MAX_INCIDENTS + 1)
    return _newest(page.items, MAX_INCIDENTS)


def _newest(newest_first: Sequence[Listed], limit: int) -> tuple[tuple[Listed, ...], bool]:
    """The ``limit`` newest of a page read with ``limit`` + 1 items, oldest first, and whether
    one was left out. A full page only says "there may be more": the one more read tells, so a
    period with exactly ``limit`` items is listed whole and not said to be cut."""
    kept = sorted(newest_first[:limit], key=attrgetter("id"))
    return tuple(kept), len(newest_first) > limit


def build_report(session: Session, name: str, request: ReportRequest, now: datetime) -> ComplianceReport:
    """The report of model ``name`` (404 if unknown) over [start, end): every version (or the
    one asked for) with its figures, then the model's incidents and alerts about the period and
    its configuration history up to ``now``."""
    model = load_model(session, name)
    specs = [pick_version(model, request.version)] if request.version else list(model.versions.values())
    sections = tuple(_section(session, model, spec, request, now) for spec in specs)
    alerts, alerts_cut = _alerts(session, model.model_id, request)
    incidents, incidents_cut = _incidents(session, model.model_id, request)
    history, history_cut = _history(session, model, now)
    return ComplianceReport(
        model.name, request.start, request.end, now, __version__, request.min_cell, request.retention_days,
        sections, incidents, incidents_cut, alerts, alerts_cut, history, history_cut,
    )  # fmt: skip
