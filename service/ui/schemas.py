"""What the status pages show, as plain frozen values: built by ``service``, drawn by ``pages``
and ``charts``. Nothing here is escaped yet; every string may come from the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from service.stats.slice_search import SliceFinding


class Point(NamedTuple):
    """One window's figure. ``x`` is the window end; ``y`` None means no value
    (insufficient data), drawn as a gap. ``low``/``high`` is the figure's interval.
    A named tuple: a page builds ~3,000, and a frozen dataclass costs ~5× as much to create."""

    x: datetime
    y: float | None
    low: float | None = None
    high: float | None = None
    n: int = 0
    provisional: bool = False
    alert: bool = False
    # past the threshold on its point estimate, but its interval still reaches the threshold
    watch: bool = False


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a chart. ``band`` draws the interval; ``estimated`` draws a dotted line
    (figures estimated without labels)."""

    name: str
    points: tuple[Point, ...]
    band: bool = False
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class Chart:
    """A line chart over window ends ``xs``. ``key`` names it for tests and anchors;
    ``y_floor``/``y_ceiling`` widen the y range to include them (e.g. 0 and 1 for rates);
    ``wide`` draws it across the page."""

    key: str
    title: str
    series: tuple[Series, ...]
    xs: tuple[datetime, ...]
    thresholds: tuple[float, ...] = ()
    y_floor: float | None = None
    y_ceiling: float | None = None
    wide: bool = False


@dataclass(frozen=True, slots=True)
class AlertRow:
    """An alert as the tables show it; ``subject`` is the feature, attribute or group it is about."""

    id: int
    model: str
    version: str | None
    family: str
    metric: str
    subject: str
    severity: str
    state: str
    value: float | None
    threshold: float | None
    since: datetime
    resolved_at: datetime | None
    summary: str


@dataclass(frozen=True, slots=True)
class ModelRow:
    name: str
    versions: tuple[str, ...]
    last_window: tuple[datetime, datetime] | None
    firing: int
    pending: int

    @property
    def status(self) -> str:
        """ "firing", "pending", "ok" or "not evaluated" (no window run yet)."""
        if self.firing:
            return "firing"
        if self.pending:
            return "pending"
        return "ok" if self.last_window is not None else "not evaluated"


@dataclass(frozen=True, slots=True)
class Health:
    """``waiting``: windows that have ended and wait for evaluation; ``lag_seconds``: how long
    the oldest of them has waited (None when none waits); ``folded_through``: every event
    committed before it is aggregated."""

    schema: str | None
    waiting: int
    lag_seconds: float | None
    folded_through: datetime | None


@dataclass(frozen=True, slots=True)
class FailureRow:
    """A unit of one model's work that keeps failing (``job_failures``)."""

    model: str
    job: str
    unit: str
    error: str
    attempts: int
    retry_at: datetime


@dataclass(frozen=True, slots=True)
class Overview:
    models: tuple[ModelRow, ...]
    firing: tuple[AlertRow, ...]
    health: Health
    now: datetime
    failures: tuple[FailureRow, ...] = ()


@dataclass(frozen=True, slots=True)
class FairnessBlock:
    """The charts of one protected attribute (or intersection) and its group names."""

    attribute: str
    groups: tuple[str, ...]
    charts: tuple[Chart, ...]


@dataclass(frozen=True, slots=True)
class SliceTable:
    """The newest window's failing slices (``ui/slices.py``), worst lower bound first."""

    metric: str
    n: int
    value: float | None
    tested: int
    findings: tuple[SliceFinding, ...]


@dataclass(frozen=True, slots=True)
class ModelPage:
    name: str
    version: str
    task: str
    versions: tuple[str, ...]
    last_window: tuple[datetime, datetime] | None
    windows: int
    label_coverage: float | None
    drift: Chart | None
    drift_features: int
    performance: tuple[Chart, ...]
    fairness: tuple[FairnessBlock, ...]
    open_alerts: tuple[AlertRow, ...]
    recent_alerts: tuple[AlertRow, ...]
    now: datetime
    multivariate: Chart | None = None
    # The newest window's failing slices (ui/slices.py); None when there are no counts.
    slices: SliceTable | None = None
