"""The evaluation policy: what the pure evaluation of a window reads of a monitor configuration.

``MonitorConfig`` is the API's schema (pydantic, its JSON shape fixed for clients); the
engine reads these frozen dataclasses instead, built once at the edge by
``evaluation_policy``. Fairness bounds are a mapping disparity → bound over
``service.stats.disparities.DISPARITIES``, drift methods a mapping column kind → method name
over ``service.stats.methods.DRIFT_METHODS``.

``monitor_policy`` builds, from one configuration, every policy a version's windows are
evaluated and alerted with (``MonitorPolicy``: this one, the grid, the binning plan and the
alerting policy of ``service/monitors/plans.py``) and the hash its runs cite.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from service.monitors.plans import (
    AlertingPolicy,
    BinningPlan,
    WindowGrid,
    alerting_policy,
    binning_plan,
    window_grid,
)
from service.monitors.schemas import DecisionMode
from service.monitors.service import config_hash
from service.stats.disparities import DISPARITIES
from service.stats.methods import ColumnKind

if TYPE_CHECKING:
    from service.monitors.schemas import DriftSettings, FairnessSettings, MonitorConfig


@dataclass(frozen=True, slots=True)
class DriftPolicy:
    """``methods``: column kind → drift method; ``thresholds``: column kind → effect bound."""

    enabled: bool
    alpha: float
    methods: Mapping[ColumnKind, str]
    thresholds: Mapping[ColumnKind, float]
    features: tuple[str, ...] | None
    outputs: bool
    multivariate: bool = True


@dataclass(frozen=True, slots=True)
class QualityPolicy:
    enabled: bool
    max_missing_rate_increase: float
    max_out_of_range_share: float
    max_unseen_share: float


@dataclass(frozen=True, slots=True)
class PerformanceBound:
    """Alert below ``low`` or above ``high`` (either may be None)."""

    low: float | None
    high: float | None


@dataclass(frozen=True, slots=True)
class PerformancePolicy:
    """``bounds``: metric → explicit bound; other metrics are judged against the reference's
    value moved by ``max_drop`` (metric units)."""

    enabled: bool
    estimated: bool
    min_labelled: int
    max_drop: float
    bounds: Mapping[str, PerformanceBound]


@dataclass(frozen=True, slots=True)
class FairnessPolicy:
    """``bounds``: disparity name → bound (a difference alerts above it, a ratio below; None:
    reported, never alerted on)."""

    enabled: bool
    min_group_size: int
    bounds: Mapping[str, float | None]


@dataclass(frozen=True, slots=True)
class ExplanationPolicy:
    enabled: bool
    min_ndcg: float
    top_k: int | None


@dataclass(frozen=True, slots=True)
class EvaluationPolicy:
    """Everything ``windows.figures.evaluate_window`` reads; ``min_rows`` for drift, quality
    and representation, ``label_coverage`` the share at which a window stops being early."""

    min_rows: int
    label_coverage: float
    decision: DecisionMode
    confidence: float
    drift: DriftPolicy
    quality: QualityPolicy
    performance: PerformancePolicy
    fairness: FairnessPolicy
    explanation: ExplanationPolicy


def drift_policy(settings: DriftSettings) -> DriftPolicy:
    """``numeric_method`` and ``numeric_threshold`` cover continuous and discrete columns."""
    return DriftPolicy(
        enabled=settings.enabled,
        alpha=settings.alpha,
        methods={
            "numeric": settings.numeric_method,
            "discrete": settings.numeric_method,
            "categorical": settings.categorical_method,
        },
        thresholds={
            "numeric": settings.numeric_threshold,
            "discrete": settings.numeric_threshold,
            "categorical": settings.categorical_threshold,
        },
        features=None if settings.features is None else tuple(settings.features),
        outputs=settings.outputs,
        multivariate=settings.multivariate,
    )


def fairness_bounds(settings: FairnessSettings) -> dict[str, float | None]:
    """Each disparity's bound: its settings field, else the table's default (None: no bound)."""
    bounds: dict[str, float | None] = {}
    for d in DISPARITIES:
        bound = getattr(settings, d.setting, d.default_bound)
        bounds[d.name] = None if bound is None else float(bound)
    return bounds


def evaluation_policy(config: MonitorConfig) -> EvaluationPolicy:
    quality, performance, fairness, explanation = (
        config.data_quality,
        config.performance,
        config.fairness,
        config.explanation,
    )
    return EvaluationPolicy(
        min_rows=config.min_rows,
        label_coverage=config.label_coverage,
        decision=config.decision,
        confidence=config.confidence,
        drift=drift_policy(config.drift),
        quality=QualityPolicy(
            quality.enabled,
            quality.max_missing_rate_increase,
            quality.max_out_of_range_share,
            quality.max_unseen_share,
        ),
        performance=PerformancePolicy(
            enabled=performance.enabled,
            estimated=performance.estimated,
            min_labelled=performance.min_labelled,
            max_drop=performance.max_drop,
            bounds={m: PerformanceBound(b.min, b.max) for m, b in performance.thresholds.items()},
        ),
        fairness=FairnessPolicy(fairness.enabled, fairness.min_group_size, fairness_bounds(fairness)),
        explanation=ExplanationPolicy(explanation.enabled, explanation.min_ndcg, explanation.top_k),
    )


@dataclass(frozen=True, slots=True)
class MonitorPolicy:
    """Every policy of one monitor configuration, and ``config_hash`` (its evaluated sections'
    hash, cited by each window run)."""

    grid: WindowGrid
    binning: BinningPlan
    evaluation: EvaluationPolicy
    alerting: AlertingPolicy
    config_hash: str


def monitor_policy(config: MonitorConfig) -> MonitorPolicy:
    return MonitorPolicy(
        grid=window_grid(config),
        binning=binning_plan(config),
        evaluation=evaluation_policy(config),
        alerting=alerting_policy(config),
        config_hash=config_hash(config),
    )
