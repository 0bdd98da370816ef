"""Outcome families of ``figures``: realised and estimated performance, fairness.

The rules and formulas are in the docstring of ``service.windows.figures``; this module
turns the reports of ``service.stats`` (performance, estimated, fairness) into ``Figure`` rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from service.monitors.schemas import FairnessSettings, MonitorConfig, PerformanceSettings
from service.stats.estimated import MIN_REFERENCE, calibrate, estimate_performance
from service.stats.fairness import Disparity, RepresentationReport, fairness_report, representation_shift
from service.stats.fdr import benjamini_hochberg
from service.stats.intervals import MetricValue
from service.stats.layout import Layout
from service.stats.outcomes import OVERALL, Outcomes
from service.stats.performance import binary_performance, multiclass_performance, regression_performance
from service.stats.profile import Profile, group_outcomes
from service.windows.figures_base import (
    ALERT,
    ESTIMATED_PERFORMANCE,
    FAIRNESS,
    INSUFFICIENT,
    OK,
    PERFORMANCE,
    Figure,
    Limit,
    judged,
    provisional,
)

# Worse means higher for these (schemas.PerformanceSettings); every other metric is
# higher-is-better except the signed mean error, which gets no default threshold.
ERROR_METRICS = frozenset({"brier", "log_loss", "ece", "mae", "rmse", "mape"})
SIGNED_METRICS = frozenset({"mean_error"})
# Brier, log loss, the AUCs and ECE need scores: a binary model without them never has these figures.
SCORE_METRICS = frozenset({"brier", "log_loss", "roc_auc", "pr_auc", "ece"})
# Figures that need labels (and so follow the provisional rule); selection rate, statistical
# parity and disparate impact read predictions only.
LABEL_RATES = frozenset({"tpr", "fpr", "ppv"})
LABEL_DISPARITIES = frozenset(
    {"equal_opportunity_difference", "equalized_odds_difference", "predictive_parity_difference"}
)
# Cramér's V below 0.1 is a negligible association (Cohen's w = 0.1, "small"); the same
# default as the categorical drift threshold on Jensen-Shannon distance.
REPRESENTATION_MIN_V = 0.1
INTERSECTION_JOIN = "×"
GROUP_JOIN = "|"


# ---------------------------------------------------------------- performance


def realised_metrics(layout: Layout, outcomes: Outcomes, *, min_n: int) -> tuple[MetricValue, ...]:
    """The task's realised metrics from one group's outcome aggregates (labelled rows only)."""
    if layout.task == "binary_classification" and outcomes.binary is not None:
        scored = layout.score is not None
        report = binary_performance(
            counts=outcomes.binary, histogram=outcomes.scores if scored else None, min_n=min_n
        )
        return tuple(m for m in report.metrics if scored or m.metric not in SCORE_METRICS)
    if layout.task == "multiclass_classification" and outcomes.multiclass is not None:
        return multiclass_performance(counts=outcomes.multiclass, min_n=min_n).metrics
    if layout.task == "regression" and outcomes.regression is not None:
        return regression_performance(sums=outcomes.regression, min_n=min_n).metrics
    return ()


def reference_values(layout: Layout, reference: Profile, *, min_n: int) -> dict[str, float]:
    """The reference's realised value of each metric that is computable (same ``min_n``)."""
    metrics = realised_metrics(layout, reference.outcomes[OVERALL], min_n=min_n)
    return {m.metric: m.value for m in metrics if m.status == "ok" and m.value is not None}


def performance_limit(
    metric: str, reference: Mapping[str, float], settings: PerformanceSettings
) -> Limit | None:
    """Explicit bound, else ref − max_drop (alert below) or, for error metrics, ref + max_drop
    (alert above); None without a reference value, and for the signed mean error."""
    bound = settings.thresholds.get(metric)
    if bound is not None:
        return Limit(bound.min, bound.max)
    ref = reference.get(metric)
    if ref is None or metric in SIGNED_METRICS:
        return None
    if metric in ERROR_METRICS:
        return Limit(high=ref + settings.max_drop)
    return Limit(low=ref - settings.max_drop)


def performance_figures(
    layout: Layout,
    window: Profile,
    reference: Mapping[str, float],
    settings: PerformanceSettings,
    *,
    early: bool,
) -> list[Figure]:
    """Realised figures of the window; every computed one is provisional when ``early``."""
    metrics = realised_metrics(layout, window.outcomes[OVERALL], min_n=settings.min_labelled)
    figures = [judged(PERFORMANCE, m, performance_limit(m.metric, reference, settings)) for m in metrics]
    return [provisional(f) for f in figures] if early else figures


def estimated_figures(
    layout: Layout,
    reference_profile: Profile,
    window: Profile,
    reference: Mapping[str, float],
    settings: PerformanceSettings,
) -> list[Figure]:
    """Label-free (CBPE) figures of a binary model with scores, calibrated on the reference.

    None at all when the reference has fewer than ``MIN_REFERENCE`` labelled scored rows:
    such a reference can never support an estimate, so the rows would be noise.
    """
    ref_hist = reference_profile.outcomes[OVERALL].scores
    win_hist = window.outcomes[OVERALL].scores
    if layout.task != "binary_classification" or layout.score is None or ref_hist is None or win_hist is None:
        return []
    calibration = calibrate(ref_hist)
    if calibration.n < MIN_REFERENCE:
        return []
    estimate = estimate_performance(
        calibration=calibration, window=win_hist, threshold=layout.threshold, min_n=settings.min_labelled
    )
    return [
        judged(ESTIMATED_PERFORMANCE, m, performance_limit(m.metric, reference, settings))
        for m in estimate.metrics
    ]


# ---------------------------------------------------------------- fairness


def groupings(layout: Layout) -> list[tuple[str, ...]]:
    """Each protected attribute alone, then each declared intersection."""
    return [(a.name,) for a in layout.attributes] + [tuple(c) for c in layout.intersections]


def named_groups(profile: Profile, attributes: Sequence[str]) -> dict[str, Outcomes]:
    """Outcomes per group with rows, keyed "F" or, for an intersection, "F|18-25"."""
    return {GROUP_JOIN.join(k): o for k, o in group_outcomes(profile, attributes).items() if o.rows > 0}


def _disparity_limit(metric: str, settings: FairnessSettings) -> Limit:
    # Every difference is max − min ≥ 0 (fairness.py), so |value| = value: alert above.
    if metric == "disparate_impact_ratio":
        return Limit(low=settings.min_impact_ratio)
    maxima = {
        "statistical_parity_difference": settings.max_parity_difference,
        "equal_opportunity_difference": settings.max_equal_opportunity_difference,
        "equalized_odds_difference": settings.max_equalized_odds_difference,
        "predictive_parity_difference": settings.max_predictive_parity_difference,
    }
    return Limit(high=maxima[metric])


def _disparity_figure(attribute: str, d: Disparity, settings: FairnessSettings) -> Figure:
    metric = MetricValue(d.metric, d.value, d.n, d.ci_low, d.ci_high, d.status, d.method)
    return judged(FAIRNESS, metric, _disparity_limit(d.metric, settings), attribute=attribute)


def binary_fairness_figures(
    attribute: str,
    reference: Mapping[str, Outcomes],
    window: Mapping[str, Outcomes],
    settings: FairnessSettings,
) -> list[Figure]:
    """Per-group rates (no thresholds) then the five disparities of one attribute."""
    report = fairness_report(
        attribute=attribute,
        groups={g: o.binary for g, o in window.items() if o.binary is not None},
        expected_groups=sorted(reference),
        min_group_n=settings.min_group_size,
    )
    figures = [
        judged(FAIRNESS, rate, None, attribute=attribute, group=g.group)
        for g in report.groups
        for rate in g.rates
    ]
    return figures + [_disparity_figure(attribute, d, settings) for d in report.disparities]


def _label_based(figure: Figure) -> bool:
    return figure.metric in (LABEL_DISPARITIES if figure.group is None else LABEL_RATES)


def _representation_figure(report: RepresentationReport, q: float | None, alpha: float) -> Figure:
    v = report.cramers_v
    shifted = v is not None and q is not None and q < alpha and v >= REPRESENTATION_MIN_V
    return Figure(
        family=FAIRNESS,
        metric="representation_shift",
        attribute=report.attribute,
        value=v,
        n=report.current_n,
        threshold=REPRESENTATION_MIN_V,
        status=INSUFFICIENT if v is None else (ALERT if shifted else OK),
    )


def fairness_figures(
    layout: Layout, reference: Profile, window: Profile, config: MonitorConfig, *, early: bool
) -> list[Figure]:
    """Per attribute and intersection: group rates and disparities (binary), then representation.

    Representation p-values are BH-adjusted across the attributes and intersections of the
    window (their own family: fairness.py leaves FDR to the caller).
    """
    blocks: list[list[Figure]] = []
    reports: list[RepresentationReport] = []
    for attributes in groupings(layout):
        name = INTERSECTION_JOIN.join(attributes)
        ref, win = named_groups(reference, attributes), named_groups(window, attributes)
        block = []
        if layout.task == "binary_classification":
            block = binary_fairness_figures(name, ref, win, config.fairness)
        blocks.append([provisional(f) if early and _label_based(f) else f for f in block])
        counts = {g: o.rows for g, o in ref.items()}, {g: o.rows for g, o in win.items()}
        reports.append(
            representation_shift(
                attribute=name, reference=counts[0], current=counts[1], min_n=config.min_rows
            )
        )
    q_values = benjamini_hochberg([r.p_value for r in reports])
    figures: list[Figure] = []
    for block, report, q in zip(blocks, reports, q_values, strict=True):
        figures += [*block, _representation_figure(report, q, config.drift.alpha)]
    return figures
