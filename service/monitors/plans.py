"""What the engine reads of a monitor configuration: frozen policies and plans, built once
at the edge where a configuration is loaded.

``MonitorConfig`` and its sections (``service/monitors/schemas.py``, ``policy.py``) are the
API's schema; below the edge the engine reads these instead: the alerting policy
(``alerting_policy``: alerting's rules, bands, no-data rule and retraining), the window grid
(``window_grid``: scheduling, ingestion's workload check) and the binning plan
(``binning_plan``: fitting bins, choosing the reference). ``monitors`` is a low floor, so
aggregation, windows, alerting and ingestion all import them; the evaluation policy, read
by windows alone, is ``service/windows/policy.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.monitors.policy import FAMILY_DEFAULTS, FamilyRule, RetrainingSettings, Severity
from service.monitors.schemas import MonitorConfig, ReferenceKind


@dataclass(frozen=True, slots=True)
class FamilyPolicy:
    """One family's rule (``FamilyRule``): fire after ``fire_after`` consecutive alerting
    windows, resolve ``resolve_margin`` × the band's room past the threshold."""

    enabled: bool
    fire_after: int
    resolve_margin: float
    severity: Severity


@dataclass(frozen=True, slots=True)
class NoDataPolicy:
    """Fire after ``after`` seconds without a prediction (None: never)."""

    after: int | None
    severity: Severity


@dataclass(frozen=True, slots=True)
class RetrainingPolicy:
    """``RetrainingSettings`` in seconds: ``performance_firing_for`` and ``cooldown``."""

    enabled: bool
    performance_firing_for: int
    drift_with_estimated_drop: bool
    cooldown: int


# Families whose figures without an explicit bound are judged against the reference's value.
RELATIVE_FAMILIES = frozenset({"performance", "estimated_performance"})


@dataclass(frozen=True, slots=True)
class RelativeThresholds:
    """The thresholds the evaluation sets relative to the reference's value.

    Performance metrics without an explicit bound (``bounded`` lists those with one, the keys
    of the metric → bound mapping) alert ``max_drop`` worse than the reference; the missing
    rate ``missing_rate_increase`` above it. Both in the metric's units.
    """

    max_drop: float
    bounded: frozenset[str]
    missing_rate_increase: float

    def room(self, family: str, metric: str) -> float | None:
        """The allowed change when ``metric``'s threshold is relative (None: it is absolute)."""
        if family in RELATIVE_FAMILIES and metric not in self.bounded:
            return self.max_drop
        if family == "data_quality" and metric == "missing_rate":
            return self.missing_rate_increase
        return None


@dataclass(frozen=True, slots=True)
class AlertingPolicy:
    """Everything alerting reads of a monitor configuration.

    ``families``: family → its rule; ``history``: seconds (``label_wait`` + ``window``) after
    which a window can no longer change, so its runs are not alerted on; ``reference_kind``:
    named in a retraining request's evidence.
    """

    families: Mapping[str, FamilyPolicy]
    no_data: NoDataPolicy
    retraining: RetrainingPolicy
    relative: RelativeThresholds
    history: int
    reference_kind: str

    def rule_for(self, family: str) -> FamilyPolicy | None:
        return self.families.get(family)


def family_policy(rule: FamilyRule) -> FamilyPolicy:
    return FamilyPolicy(rule.enabled, rule.fire_after, rule.resolve_margin, rule.severity)


def retraining_policy(settings: RetrainingSettings) -> RetrainingPolicy:
    return RetrainingPolicy(
        enabled=settings.enabled,
        performance_firing_for=settings.performance_firing_for,
        drift_with_estimated_drop=settings.drift_with_estimated_drop,
        cooldown=settings.cooldown,
    )


def alerting_policy(config: MonitorConfig) -> AlertingPolicy:
    settings = config.alerting
    rules = {family: settings.rule_for(family) for family in FAMILY_DEFAULTS}
    return AlertingPolicy(
        families={family: family_policy(rule) for family, rule in rules.items() if rule is not None},
        no_data=NoDataPolicy(settings.no_data_after, settings.no_data_severity),
        retraining=retraining_policy(config.retraining),
        relative=RelativeThresholds(
            max_drop=config.performance.max_drop,
            bounded=frozenset(config.performance.thresholds),
            missing_rate_increase=config.data_quality.max_missing_rate_increase,
        ),
        history=config.label_wait + config.window,
        reference_kind=config.reference.kind.value,
    )


@dataclass(frozen=True, slots=True)
class WindowGrid:
    """Seconds. Windows ``window`` long end every ``step`` (multiples of it from the epoch),
    merged from ``bucket``-long pieces; late labels re-evaluate a window until ``label_wait``
    after its end."""

    window: int
    step: int
    bucket: int
    label_wait: int


def window_grid(config: MonitorConfig) -> WindowGrid:
    return WindowGrid(config.window, config.step, config.bucket, config.label_wait)


@dataclass(frozen=True, slots=True)
class ReferencePlan:
    """What windows are compared with (``ReferenceConfig``); ``start``/``end`` for a range."""

    kind: ReferenceKind
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True, slots=True)
class BinningPlan:
    """What fitting a version's bins reads (``service/aggregation/layouts.py``).

    A bootstrap fits on the first ``bootstrap_rows`` predictions, waiting at most ``window``
    seconds for them, and needs ``min_rows``; ``intersections`` None means every pair of 2–3
    declared attributes. ``inputs`` is ``MonitorConfig.layout_inputs()`` as the layout's inputs
    hash has always hashed it (read-only).
    """

    reference: ReferencePlan
    bootstrap_rows: int
    min_rows: int
    window: int
    bucket: int
    intersections: tuple[tuple[str, ...], ...] | None
    inputs: Mapping[str, Any]


def binning_plan(config: MonitorConfig) -> BinningPlan:
    ref, combos = config.reference, config.fairness.intersections
    return BinningPlan(
        reference=ReferencePlan(ref.kind, ref.start, ref.end),
        bootstrap_rows=config.bootstrap_rows,
        min_rows=config.min_rows,
        window=config.window,
        bucket=config.bucket,
        intersections=None if combos is None else tuple(tuple(c) for c in combos),
        inputs=config.layout_inputs(),
    )
