"""Which incident a firing alert joins, when an incident resolves, and how its likely causes
rank: pure functions of alert facts and times (no database, no clock; docs/alerting.md,
"Incidents").

The cause of an alert, from its family and subject:

    data_quality, no_data                             → "data"          (kind ``data``)
    drift or explanation drift of input feature F     → "input:F"       (kind ``input``)
    multivariate drift (a drift figure with no feature) → "input:(joint numeric features)"
    drift of an output (prediction, score),
      performance, estimated performance              → "performance"   (kind ``performance``)
    fairness of protected attribute A                 → "fairness:A"    (kind ``fairness``)

A firing alert joins the open incident of its model with the same cause when its window
starts at most ``gap`` after the incident's last window ends (``gap`` = the alert's window
length, so sliding windows of one problem always overlap or touch); otherwise it opens one.
An incident resolves once every alert in it has been resolved for ``hold`` (the longest
window of its alerts, at least one hour) on the injected clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

# Figures of a model's outputs carry these feature names (service/windows/figures.py).
OUTPUT_FEATURES = frozenset({"prediction", "score"})
# The one drift figure without a feature: the rows' PCA reconstruction error, an input cause.
JOINT_INPUTS = "input:(joint numeric features)"
SEVERITY_ORDER = {"info": 0, "warning": 1, "critical": 2}
MIN_HOLD = timedelta(hours=1)


class IncidentState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class Kind(StrEnum):
    DATA = "data"
    INPUT = "input"
    PERFORMANCE = "performance"
    FAIRNESS = "fairness"


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """What grouping reads of an alert; ``window`` is (start, end), or (fired, fired) for an
    alert without one (no data)."""

    id: int
    family: str
    metric: str
    feature: str
    attribute: str
    severity: str
    open: bool
    value: float | None
    threshold: float | None
    window: tuple[datetime, datetime]
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class Span:
    """An incident's windows: from the earliest start to the latest end of its alerts."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Cause:
    """One likely cause of an incident, as ranked in its summary."""

    kind: str  # "data", "concept", "input" or "unexplained"
    subject: str  # the feature, "data", or "" for unexplained
    incident_id: int | None
    strength: float | None  # the largest relative excess of its alerts (see ``excess``)
    why: str


def cause_of(family: str, feature: str, attribute: str) -> tuple[Kind, str]:
    """(kind, cause key) of an alert; the table in the module docstring."""
    if family in ("data_quality", "no_data"):
        return Kind.DATA, "data"
    if family in ("drift", "explanation") and feature and feature not in OUTPUT_FEATURES:
        return Kind.INPUT, f"input:{feature}"
    if family == "drift" and not feature:
        return Kind.INPUT, JOINT_INPUTS
    if family == "fairness":
        return Kind.FAIRNESS, f"fairness:{attribute}"
    return Kind.PERFORMANCE, "performance"


def span_of(alerts: Sequence[AlertFacts]) -> Span:
    return Span(min(a.window[0] for a in alerts), max(a.window[1] for a in alerts))


def gap_of(alert: AlertFacts) -> timedelta:
    """The alert's window length (zero for an alert without a window)."""
    return alert.window[1] - alert.window[0]


def joins(span: Span, alert: AlertFacts) -> bool:
    """True when the alert's window starts no later than ``gap_of(alert)`` after ``span`` ends
    (and does not end before it starts): the same stretch of time."""
    start, end = alert.window
    return start <= span.end + gap_of(alert) and end >= span.start - gap_of(alert)


def quiet_since(alerts: Sequence[AlertFacts]) -> datetime | None:
    """When the last of the alerts resolved; None while any is open."""
    if any(a.open for a in alerts):
        return None
    ends = [a.resolved_at for a in alerts if a.resolved_at is not None]
    return max(ends) if ends else None


def hold_of(alerts: Sequence[AlertFacts]) -> timedelta:
    """How long an incident stays open after its last alert resolved: its longest window, ≥ 1 h."""
    return max([MIN_HOLD, *(gap_of(a) for a in alerts)])


def resolves(alerts: Sequence[AlertFacts], now: datetime) -> bool:
    """Every alert resolved, and for at least ``hold_of(alerts)`` by ``now``."""
    since = quiet_since(alerts)
    return since is not None and now - since >= hold_of(alerts)


def severity_of(alerts: Sequence[AlertFacts]) -> str:
    """The highest severity of the alerts (critical > warning > info)."""
    return max((a.severity for a in alerts), key=lambda s: SEVERITY_ORDER.get(s, 0), default="warning")


def excess(value: float | None, threshold: float | None) -> float:
    """How far past its threshold a value is, relative to the threshold: |v − t| / |t|
    (|v − t| when t = 0); 0 without a value or threshold."""
    if value is None or threshold is None:
        return 0.0
    scale = abs(threshold) or 1.0
    return abs(value - threshold) / scale


def _strength(alerts: Sequence[AlertFacts]) -> float:
    return max((excess(a.value, a.threshold) for a in alerts), default=0.0)


@dataclass(frozen=True, slots=True)
class Neighbour:
    """Another incident of the same model: its id, cause, span and alerts."""

    incident_id: int
    kind: Kind
    cause: str
    span: Span
    alerts: Sequence[AlertFacts]


def _overlap(a: Span, b: Span) -> bool:
    return a.start <= b.end and b.start <= a.end


def _candidate(n: Neighbour) -> Cause:
    if n.kind is Kind.DATA:
        metrics = ", ".join(sorted({a.metric for a in n.alerts}))
        why = f"data quality broke in the same windows ({metrics}): fix the data before judging the model"
        return Cause("data", "data", n.incident_id, _strength(n.alerts), why)
    feature = n.cause.removeprefix("input:")
    best = _strength(n.alerts)
    why = f"input {feature} drifted in the same windows, {best:.0%} past its threshold"
    return Cause("input", feature, n.incident_id, best, why)


CONCEPT_WHY = (
    "realised performance dropped while the label-free estimate, which follows shifts of the "
    "inputs, held in the same windows: the inputs' drift does not account for the drop; suspect a "
    "concept shift (the relation between inputs and outcomes changed)"
)


def rank_causes(
    kind: Kind, span: Span, neighbours: Sequence[Neighbour], own: Neighbour, *, estimate_held: bool = False
) -> list[Cause]:
    """The likely causes of an incident: data-quality incidents first, then drifted inputs by
    their largest relative excess (``excess``), among the incident itself and the model's
    other incidents whose windows overlap ``span``.

    A performance incident with a realised-performance alert whose label-free estimate was
    evaluated and never alerted in its windows (``estimate_held``) gets a ``concept`` cause
    after data and before the inputs: the estimate moves with covariate shift (CBPE/DLE), so a
    drop it does not see is not the inputs' doing. A performance or fairness incident with no
    candidate at all gets one ``unexplained`` cause."""
    pool = [own, *(n for n in neighbours if n.incident_id != own.incident_id and _overlap(span, n.span))]
    found = [_candidate(n) for n in pool if n.kind in (Kind.DATA, Kind.INPUT)]
    realised = any(a.family == "performance" for a in own.alerts)
    if kind is Kind.PERFORMANCE and realised and estimate_held:
        found.append(Cause("concept", "", None, None, CONCEPT_WHY))
    order = {"data": 0, "concept": 1}
    found.sort(key=lambda c: (order.get(c.kind, 2), -(c.strength or 0.0), c.subject))
    if not found and kind in (Kind.PERFORMANCE, Kind.FAIRNESS):
        why = (
            "no input drifted and data quality held in these windows: the relation between inputs "
            "and outcomes changed (concept shift), or something after the model (a rule, a threshold)"
        )
        found.append(Cause("unexplained", "", None, None, why))
    return found
