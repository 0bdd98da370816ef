"""Outcome families of ``figures``: realised and estimated performance.

The rules and formulas are in the docstring of ``service.windows.figures``; this module
turns the reports of ``service.stats`` (performance, estimated) into ``Figure`` rows.
Fairness is in ``figures_fairness``.

Decisions (``figures_base``): every metric with a threshold is one decision of its family;
the family's intervals are simultaneous over them (``Decider.level``), and a threshold
relative to the reference's value carries the reference's interval, computed at the same
level, so the decision also accounts for the reference's own sampling error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from service.stats.estimated import MIN_REFERENCE, calibrate, estimate_performance
from service.stats.intervals import MetricValue
from service.stats.layout import Layout
from service.stats.outcomes import OVERALL, Outcomes
from service.stats.performance import binary_performance, multiclass_performance, regression_performance
from service.stats.profile import Profile
from service.windows.figures_base import (
    ESTIMATED_PERFORMANCE,
    PERFORMANCE,
    Decider,
    Estimate,
    Figure,
    Limit,
    judged,
    provisional,
)
from service.windows.policy import PerformancePolicy

# Worse means higher for these (schemas.PerformanceSettings); every other metric is
# higher-is-better except the signed mean error, which gets no default threshold.
ERROR_METRICS = frozenset({"brier", "log_loss", "ece", "mae", "rmse", "mape"})
# No threshold relative to the reference, only explicit bounds: the signed mean error (either
# sign is worse, which one threshold cannot express); R² (= 1 − MSE / Var y, it moves with
# RMSE, whose interval decides); MAPE (its variance is not stored, so a relative threshold
# would be decided on a noisy point). An explicit bound on R² or MAPE is decided on the point.
NO_RELATIVE_THRESHOLD = frozenset({"mean_error", "r2", "mape"})
# Brier, log loss, the AUCs and ECE need scores: a binary model without them never has these.
SCORE_METRICS = frozenset({"brier", "log_loss", "roc_auc", "pr_auc", "ece"})
References = Mapping[str, MetricValue]


def realised_metrics(
    layout: Layout, outcomes: Outcomes, *, min_n: int, confidence: float = 0.95
) -> tuple[MetricValue, ...]:
    """The task's realised metrics from one group's outcome aggregates (labelled rows only)."""
    if layout.task == "binary_classification" and outcomes.binary is not None:
        scored = layout.score is not None
        report = binary_performance(
            counts=outcomes.binary,
            histogram=outcomes.scores if scored else None,
            min_n=min_n,
            confidence=confidence,
        )
        return tuple(m for m in report.metrics if scored or m.metric not in SCORE_METRICS)
    if layout.task == "multiclass_classification" and outcomes.multiclass is not None:
        return multiclass_performance(counts=outcomes.multiclass, min_n=min_n, confidence=confidence).metrics
    if layout.task == "regression" and outcomes.regression is not None:
        return regression_performance(sums=outcomes.regression, min_n=min_n, confidence=confidence).metrics
    return ()


def computed(metrics: Sequence[MetricValue]) -> dict[str, MetricValue]:
    """The metrics that have a value, by name."""
    return {m.metric: m for m in metrics if m.status == "ok" and m.value is not None}


def performance_limit(metric: str, reference: References, settings: PerformancePolicy) -> Limit | None:
    """Explicit bound, else ref − max_drop (alert below) or, for error metrics, ref + max_drop
    (alert above), carrying the reference's interval; None without a reference value, and for
    ``NO_RELATIVE_THRESHOLD``."""
    bound = settings.bounds.get(metric)
    if bound is not None:
        return Limit(bound.low, bound.high)
    ref = reference.get(metric)
    if ref is None or ref.value is None or metric in NO_RELATIVE_THRESHOLD:
        return None
    estimate = Estimate(ref.value, ref.ci_low, ref.ci_high)
    if metric in ERROR_METRICS:
        return Limit(high=ref.value + settings.max_drop, reference=estimate)
    return Limit(low=ref.value - settings.max_drop, reference=estimate)


def _decisions(names: Sequence[str], reference: References, settings: PerformancePolicy) -> int:
    """How many of ``names`` get a threshold: the family size of the simultaneous intervals."""
    return sum(1 for name in names if performance_limit(name, reference, settings) is not None)


def performance_figures(
    layout: Layout,
    window: Profile,
    reference: Outcomes,
    settings: PerformancePolicy,
    decider: Decider,
    *,
    early: bool,
) -> list[Figure]:
    """Realised figures of the window; every computed one is provisional when ``early``."""
    min_n = settings.min_labelled
    nominal = computed(realised_metrics(layout, reference, min_n=min_n, confidence=decider.confidence))
    names = [m.metric for m in realised_metrics(layout, window.outcomes[OVERALL], min_n=min_n)]
    level = decider.level(_decisions(names, nominal, settings))
    ref = computed(realised_metrics(layout, reference, min_n=min_n, confidence=level))
    metrics = realised_metrics(layout, window.outcomes[OVERALL], min_n=min_n, confidence=level)
    figures = [judged(PERFORMANCE, m, performance_limit(m.metric, ref, settings), decider) for m in metrics]
    return [provisional(f) for f in figures] if early else figures


def estimated_figures(
    layout: Layout,
    reference_profile: Profile,
    window: Profile,
    settings: PerformancePolicy,
    decider: Decider,
) -> list[Figure]:
    """Label-free (CBPE) figures of a binary model with scores, calibrated on the reference.

    Thresholds: the realised rule's (explicit bound, else relative to the reference's
    *realised* value and its interval). None at all when the reference has fewer than
    ``MIN_REFERENCE`` labelled scored rows: such a reference can never support an estimate.
    """
    ref_hist = reference_profile.outcomes[OVERALL].scores
    win_hist = window.outcomes[OVERALL].scores
    if layout.task != "binary_classification" or layout.score is None or ref_hist is None or win_hist is None:
        return []
    calibration = calibrate(ref_hist)
    if calibration.n < MIN_REFERENCE:
        return []
    outcomes, min_n = reference_profile.outcomes[OVERALL], settings.min_labelled

    def estimate(level: float) -> tuple[MetricValue, ...]:
        return estimate_performance(
            calibration=calibration,
            window=win_hist,
            threshold=layout.threshold,
            min_n=min_n,
            confidence=level,
        ).metrics

    nominal = computed(realised_metrics(layout, outcomes, min_n=min_n, confidence=decider.confidence))
    level = decider.level(_decisions([m.metric for m in estimate(decider.confidence)], nominal, settings))
    ref = computed(realised_metrics(layout, outcomes, min_n=min_n, confidence=level))
    return [
        judged(ESTIMATED_PERFORMANCE, m, performance_limit(m.metric, ref, settings), decider)
        for m in estimate(level)
    ]
