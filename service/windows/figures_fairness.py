"""The fairness family of ``figures``: group rates, disparities, calibration within groups,
representation shift.

The rules are in the docstring of ``service.windows.figures`` (rule 5). Decisions:

- Disparities (``service.stats.disparities.DISPARITIES``; those needing scores, i.e.
  ``calibration_difference``, only for a model with scores) of every
  attribute and intersection form ONE family per window: their intervals are simultaneous
  over all of them (Bonferroni, ``Decider.level``), so on data without bias the chance that
  any disparity of the window alerts is at most 1 − confidence, however many attributes,
  intersections and metrics are monitored. A disparity without a bound (the table's default
  None, not set by the monitor) is reported with no threshold, never alerts or watches, and
  is not counted in that family. Each disparity's interval already holds for
  max − min over its groups (``service.stats.fairness``), which accounts for picking the
  extreme groups after looking at the data.
- Per-group figures (selection_rate, tpr, fpr, ppv, calibration_in_the_large, ece; for a
  regression model mean_error and mae) carry no threshold; their intervals are at the
  monitor's confidence.
- Regression and multiclass models (``figures_fairness_tasks``) join the same family; a
  multiclass model has each disparity once per class, one-vs-rest, so the family counts
  attributes × classes × disparities with a bound.
- representation_shift: alert when its BH-adjusted q < α and Cramér's V ≥ 0.1; ``watch`` when
  V ≥ 0.1 without significance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from service.kernel.states import FigureStatus
from service.stats.aggregates import BinaryCounts
from service.stats.disparities import DISPARITIES
from service.stats.fairness import (
    RepresentationReport,
    fairness_report,
    group_rates,
    representation_shift,
)
from service.stats.fdr import benjamini_hochberg
from service.stats.group_calibration import calibration_report
from service.stats.layout import Layout
from service.stats.outcomes import Outcomes
from service.stats.performance import calibration_error
from service.stats.profile import Profile, group_outcomes
from service.windows.figures_base import (
    FAIRNESS,
    Decider,
    Figure,
    judged,
    provisional,
)
from service.windows.figures_fairness_tasks import alerting_disparities as alerting_disparities
from service.windows.figures_fairness_tasks import (
    disparity_figure,
    multiclass_fairness_figures,
    regression_fairness_figures,
)
from service.windows.figures_fairness_tasks import disparity_limit as disparity_limit
from service.windows.policy import EvaluationPolicy, FairnessPolicy

# Figures that need labels (and so follow the provisional rule); selection rate, statistical
# parity and disparate impact read predictions only.
LABEL_RATES = frozenset({"tpr", "fpr", "ppv", "calibration_in_the_large", "ece", "mean_error", "mae"})
LABEL_DISPARITIES = frozenset(d.name for d in DISPARITIES if d.needs_labels)
# Cramér's V below 0.1 is a negligible association (Cohen's w = 0.1, "small"); the same
# default as the categorical drift threshold on Jensen-Shannon distance.
REPRESENTATION_MIN_V = 0.1
INTERSECTION_JOIN = "×"
GROUP_JOIN = "|"


def groupings(layout: Layout) -> list[tuple[str, ...]]:
    """Each protected attribute alone, then each declared intersection."""
    return [(a.name,) for a in layout.attributes] + [tuple(c) for c in layout.intersections]


def named_groups(profile: Profile, attributes: Sequence[str]) -> dict[str, Outcomes]:
    """Outcomes per group with rows, keyed "F" or, for an intersection, "F|18-25"."""
    return {GROUP_JOIN.join(k): o for k, o in group_outcomes(profile, attributes).items() if o.rows > 0}


def _group_figures(
    attribute: str, groups: Mapping[str, Outcomes], settings: FairnessPolicy, decider: Decider, scored: bool
) -> list[Figure]:
    """Per group: the four rates, and with scores calibration-in-the-large and ECE (no thresholds)."""
    figures: list[Figure] = []
    confidence = decider.confidence
    calibration = calibration_report(
        attribute=attribute, groups=groups, min_group_n=settings.min_group_size, confidence=confidence
    )
    citl = {g.group: g.calibration_in_the_large for g in calibration.groups}
    for name in sorted(groups):
        counts = groups[name].binary or BinaryCounts.empty()
        rates = group_rates(name, counts, min_group_n=settings.min_group_size, confidence=confidence)
        figures += [judged(FAIRNESS, r, None, decider, attribute=attribute, group=name) for r in rates.rates]
        histogram = groups[name].scores
        if scored and histogram is not None:
            ece = calibration_error(histogram, min_n=settings.min_group_size, confidence=confidence)
            extra = (citl[name], ece)
            figures += [judged(FAIRNESS, m, None, decider, attribute=attribute, group=name) for m in extra]
    return figures


def binary_fairness_figures(
    attribute: str,
    reference: Mapping[str, Outcomes],
    window: Mapping[str, Outcomes],
    settings: FairnessPolicy,
    decider: Decider,
    *,
    level: float,
    scored: bool,
) -> list[Figure]:
    """Per-group figures then the disparities of one attribute, at the family's ``level``."""
    expected = {name: Outcomes(binary=BinaryCounts.empty()) for name in reference}
    groups = {**expected, **window}
    report = fairness_report(
        attribute=attribute,
        groups={g: o.binary for g, o in window.items() if o.binary is not None},
        expected_groups=sorted(reference),
        min_group_n=settings.min_group_size,
        confidence=level,
    )
    disparities = list(report.disparities)
    if scored:
        calibration = calibration_report(
            attribute=attribute,
            groups=window,
            expected_groups=sorted(reference),
            min_group_n=settings.min_group_size,
            confidence=level,
        )
        disparities.append(calibration.disparity)
    figures = _group_figures(attribute, groups, settings, decider, scored)
    return figures + [disparity_figure(attribute, d, settings, decider) for d in disparities]


def _label_based(figure: Figure) -> bool:
    return figure.metric in (LABEL_DISPARITIES if figure.group is None else LABEL_RATES)


def _representation_status(v: float | None, large: bool, significant: bool) -> FigureStatus:
    """insufficient_data without V; alert when V is large and significant, watch when only large."""
    if v is None:
        return FigureStatus.INSUFFICIENT_DATA
    if not large:
        return FigureStatus.OK
    return FigureStatus.ALERT if significant else FigureStatus.WATCH


def _representation_figure(report: RepresentationReport, q: float | None, alpha: float) -> Figure:
    v = report.cramers_v
    large = v is not None and v >= REPRESENTATION_MIN_V
    status = _representation_status(v, large, q is not None and q < alpha)
    return Figure(
        family=FAIRNESS,
        metric="representation_shift",
        attribute=report.attribute,
        value=v,
        n=report.current_n,
        threshold=REPRESENTATION_MIN_V,
        status=status,
    )


def _family_per_grouping(layout: Layout, settings: FairnessPolicy, scored: bool) -> int:
    """Disparities with a bound per attribute or intersection: a multiclass model has each per class."""
    per_class = alerting_disparities(settings, scored=scored, task=layout.task)
    return per_class * len(layout.classes) if layout.task == "multiclass_classification" else per_class


def _task_figures(
    layout: Layout,
    name: str,
    ref: Mapping[str, Outcomes],
    win: Mapping[str, Outcomes],
    settings: FairnessPolicy,
    decider: Decider,
    *,
    level: float,
    scored: bool,
) -> list[Figure]:
    """Group figures and disparities of one attribute or intersection, as the model's task has them."""
    if layout.task == "binary_classification":
        return binary_fairness_figures(name, ref, win, settings, decider, level=level, scored=scored)
    if layout.task == "multiclass_classification":
        return multiclass_fairness_figures(name, layout.classes, ref, win, settings, decider, level=level)
    return regression_fairness_figures(name, ref, win, settings, decider, level=level)


def fairness_figures(
    layout: Layout,
    reference: Profile,
    window: Profile,
    policy: EvaluationPolicy,
    decider: Decider,
    *,
    early: bool,
) -> list[Figure]:
    """Per attribute and intersection: group figures and disparities (every task), then representation.

    Representation p-values are BH-adjusted across the attributes and intersections of the
    window (their own family: fairness.py leaves FDR to the caller).
    """
    scored = layout.task == "binary_classification" and layout.score is not None
    every = groupings(layout)
    level = decider.level(len(every) * _family_per_grouping(layout, policy.fairness, scored))
    blocks: list[list[Figure]] = []
    reports: list[RepresentationReport] = []
    for attributes in every:
        name = INTERSECTION_JOIN.join(attributes)
        ref, win = named_groups(reference, attributes), named_groups(window, attributes)
        block = _task_figures(layout, name, ref, win, policy.fairness, decider, level=level, scored=scored)
        blocks.append([provisional(f) if early and _label_based(f) else f for f in block])
        counts = {g: o.rows for g, o in ref.items()}, {g: o.rows for g, o in win.items()}
        reports.append(
            representation_shift(
                attribute=name, reference=counts[0], current=counts[1], min_n=policy.min_rows
            )
        )
    q_values = benjamini_hochberg([r.p_value for r in reports])
    figures: list[Figure] = []
    for block, report, q in zip(blocks, reports, q_values, strict=True):
        figures += [*block, _representation_figure(report, q, policy.drift.alpha)]
    return figures
