"""Fairness figures of regression and multiclass models (``figures_fairness`` has the binary ones).

- Regression: per group ``mean_error`` and ``mae`` (no thresholds), then
  ``mean_error_difference`` and ``mae_difference`` (``service.stats.group_errors``), decided
  like every disparity against the monitor's bound, which is in the target's unit and has no
  default (reported only until set).
- Multiclass: per class c, one-vs-rest (``service.stats.multiclass_fairness``): the four
  group rates and the rate disparities of a binary model, each figure naming its class in
  ``feature`` (a class is bounded by the registered class list, like a feature).

Both join the window's one fairness family (``figures_fairness``): the caller passes the
level of every interval, sized for attributes × classes × disparities with a bound.
"""

from __future__ import annotations

from collections.abc import Mapping

from service.stats.aggregates import MulticlassCounts, RegressionSums
from service.stats.disparities import DISPARITY, disparities_of
from service.stats.fairness import Disparity, FairnessReport
from service.stats.group_errors import regression_fairness_report
from service.stats.intervals import MetricValue
from service.stats.multiclass_fairness import multiclass_fairness_reports
from service.stats.outcomes import Outcomes
from service.windows.figures_base import FAIRNESS, Decider, Figure, Limit, judged
from service.windows.policy import FairnessPolicy


def disparity_limit(metric: str, settings: FairnessPolicy) -> Limit | None:
    """Every difference is max − min ≥ 0 (fairness.py), so |value| = value: alert above; a
    ratio (min / max) alerts below its minimum; no bound, no limit (reported only)."""
    bound = settings.bounds[metric]
    if bound is None:
        return None
    return Limit(low=bound) if DISPARITY[metric].form == "ratio" else Limit(high=bound)


def alerting_disparities(
    settings: FairnessPolicy, *, scored: bool, task: str = "binary_classification"
) -> int:
    """How many disparities of one attribute (and class) can alert: those with a bound."""
    return sum(1 for d in disparities_of(scored=scored, task=task) if settings.bounds[d.name] is not None)


def disparity_figure(
    attribute: str, d: Disparity, settings: FairnessPolicy, decider: Decider, *, feature: str | None = None
) -> Figure:
    metric = MetricValue(d.metric, d.value, d.n, d.ci_low, d.ci_high, d.status, d.method)
    limit = disparity_limit(d.metric, settings)
    return judged(FAIRNESS, metric, limit, decider, feature=feature, attribute=attribute)


def _report_figures(
    report: FairnessReport, settings: FairnessPolicy, decider: Decider, feature: str | None
) -> list[Figure]:
    """Group rates at the monitor's confidence (no thresholds), then the disparities."""
    figures: list[Figure] = []
    attribute = report.attribute
    for group in report.groups:
        figures += [
            judged(FAIRNESS, r, None, decider, feature=feature, attribute=attribute, group=group.group)
            for r in group.rates
        ]
    return figures + [
        disparity_figure(attribute, d, settings, decider, feature=feature) for d in report.disparities
    ]


def _rates_only(report: FairnessReport, level: FairnessReport) -> FairnessReport:
    """Group rates of ``report`` (monitor's confidence) with the disparities of ``level``."""
    return FairnessReport(report.attribute, report.groups, level.disparities)


def regression_fairness_figures(
    attribute: str,
    reference: Mapping[str, Outcomes],
    window: Mapping[str, Outcomes],
    settings: FairnessPolicy,
    decider: Decider,
    *,
    level: float,
) -> list[Figure]:
    """Per-group ME and MAE, then their differences at the family's ``level``."""
    sums: dict[str, RegressionSums] = {g: o.regression for g, o in window.items() if o.regression is not None}

    def report(confidence: float) -> FairnessReport:
        return regression_fairness_report(
            attribute=attribute,
            groups=sums,
            expected_groups=sorted(reference),
            min_group_n=settings.min_group_size,
            confidence=confidence,
        )

    combined = _rates_only(report(decider.confidence), report(level))
    return _report_figures(combined, settings, decider, None)


def multiclass_fairness_figures(
    attribute: str,
    classes: tuple[str, ...],
    reference: Mapping[str, Outcomes],
    window: Mapping[str, Outcomes],
    settings: FairnessPolicy,
    decider: Decider,
    *,
    level: float,
) -> list[Figure]:
    """Per class (``feature``), one-vs-rest group rates and disparities at the family's ``level``."""
    counts: dict[str, MulticlassCounts] = {
        g: o.multiclass for g, o in window.items() if o.multiclass is not None
    }

    def reports(confidence: float) -> tuple[tuple[str, FairnessReport], ...]:
        return multiclass_fairness_reports(
            attribute=attribute,
            classes=classes,
            groups=counts,
            expected_groups=sorted(reference),
            min_group_n=settings.min_group_size,
            confidence=confidence,
        )

    figures: list[Figure] = []
    pairs = zip(reports(decider.confidence), reports(level), strict=True)
    for (name, rates), (_, disparities) in pairs:
        figures += _report_figures(_rates_only(rates, disparities), settings, decider, name)
    return figures
