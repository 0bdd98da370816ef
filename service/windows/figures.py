"""The figures of one window: drift, data quality, performance, fairness, explanation.

Pure (no database, no HTTP, no clock, no I/O): ``evaluate_window`` turns a window's merged
profile, the reference profile, the layout and the monitor configuration into flat
``Figure`` rows, in family order drift, data_quality, performance, estimated_performance,
fairness, explanation (within a family, in the order below). Statuses: "ok", "alert",
"watch", "insufficient_data" (value None, never 0) or "provisional". No NaN or ±inf is
ever returned: a non-finite value becomes None and its figure ``insufficient_data``.

**Decisions** (``figures_base``): with ``decision: interval`` (the default) a figure past
its threshold is "alert" only when its interval lies wholly past it, else "watch"; the
intervals of one family in one window are simultaneous over the family's thresholded
figures (Bonferroni at the monitor's ``confidence``); a threshold relative to the
reference is decided on the difference with the reference's interval (MOVER). With
``decision: point`` the point estimate past the threshold is "alert" and intervals are
per figure at ``confidence``. A value equal to its threshold is not past it.

Label coverage = labelled / rows with a prediction (``stats.labels.label_coverage``); None
without rows. A window is *early* while coverage < ``config.label_coverage`` and its label
wait is not over (``final`` False): its computed (ok, watch or alert) label-based figures
are then "provisional" instead; insufficient ones stay insufficient.

1. **drift** (``config.drift.enabled``): ``evaluate_drift`` with α = ``drift.alpha``, the
   numeric / categorical effect thresholds, ``min_rows`` for window and reference, and the
   prediction / score columns when ``drift.outputs`` (figures named "prediction", "score").
   Per column: ``drift_score`` = effect size (the drift method of the column's kind,
   ``drift.numeric_method`` / ``categorical_method``: by default Wasserstein / reference std,
   or Jensen-Shannon distance; ``service.stats.methods``) against its effect threshold,
   and ``p_value`` = the BH-adjusted q-value against α; both share one status: "alert" when
   q < α and the effect reaches its threshold on evidence (rule in ``figures_drift``),
   "watch" when the point effect reaches it without that; n = the window's non-missing
   values. With ``drift.features`` the evaluation runs on
   the layout and profiles restricted to those features (names the layout lacks are
   ignored), so BH's family is exactly the columns reported.
2. **data_quality** (``data_quality.enabled``), every layout feature, needing ``min_rows``
   rows in the window and in the reference: ``missing_rate`` = missing / rows (Wilson
   interval), alert above min(1, reference rate + ``max_missing_rate_increase``) decided on
   Newcombe's interval for window − reference (no threshold when the reference has no rows);
   ``out_of_range_share`` (numeric) = values outside [reference min, reference max] /
   non-missing, alert above ``max_out_of_range_share``; ``unseen_share`` (categorical) =
   values never seen in the reference / non-missing, alert above ``max_unseen_share``
   (Wilson intervals). The family is the 2 × features figures.
3. **performance** (``performance.enabled``), realised, from labelled rows, with
   ``min_n = min_labelled``: binary accuracy, precision, recall, specificity, f1 and, when
   the model has scores, brier, log_loss, roc_auc, pr_auc, ece; multiclass accuracy,
   f1_macro, f1_weighted; regression mae, rmse, mean_error, r2, mape. Threshold: the
   explicit bound ``performance.thresholds[metric]`` (the figure reports the bound nearest
   the value), else relative to the reference's realised value R of the same metric
   computed the same way: R − ``max_drop`` (alert below), or R + ``max_drop`` (alert above)
   for the error metrics brier, log_loss, ece, mae, rmse. mean_error, r2 and mape have no
   relative threshold, only explicit bounds: the signed mean error (prediction − y) because
   either sign is worse (a bias also raises mae and rmse); R² because it moves with RMSE,
   whose interval decides; MAPE because its variance is not stored, so an explicit bound on
   either is decided on the point. No reference value: no threshold, status ok. Early
   windows: provisional.
4. **estimated_performance** (``performance.enabled`` and ``.estimated``; binary models
   with scores; only when the reference has ≥ ``MIN_REFERENCE`` labelled scored rows):
   ``estimate_performance(calibrate(reference scores), window scores)`` — accuracy,
   precision, recall, f1, roc_auc — with ``min_n = min_labelled`` (counted over all the
   window's rows, labelled or not: the estimate needs none) and the realised rule's
   thresholds (explicit bound, else relative to the reference's *realised* value). Never
   provisional: it needs no labels.
5. **fairness** (``figures_fairness``; ``fairness.enabled`` and the layout has attributes),
   for each attribute then each intersection ("sex×age_band", groups "F|18-25"); binary
   task only, with ``min_group_n = min_group_size`` and the groups seen in the reference as
   expected groups: per group ``selection_rate``, ``tpr``, ``fpr``, ``ppv`` and, with
   scores, ``calibration_in_the_large`` and ``ece`` (no thresholds); per attribute the
   disparities of the table ``service.stats.disparities.DISPARITIES`` (those needing scores
   only with scores): the bounded ones one family across every attribute and intersection,
   those without a bound reported with no threshold; tpr, fpr, ppv, the calibration figures
   and the label-based disparities are provisional in early windows. Every task: per attribute
   ``representation_shift`` = Cramér's V of the 2 × k table of group counts, alert when its
   BH-adjusted q < ``drift.alpha`` and V ≥ 0.1 ("watch" when V ≥ 0.1 without significance).
6. **explanation** (``explanation.enabled`` and the window carries attributions):
   ``ndcg`` of the window's importance ranking with the reference importances as gains
   (cut at ``top_k``), alert below ``min_ndcg`` (no interval: decided on its point); then per
   feature ``mean_abs_attribution`` = Σ|a| / the window's rows carrying an attribution for it
   (no threshold). Both need 30 attributed rows (``explanation.MIN_N``; nDCG in the
   reference too).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from service.stats.explanation import explanation_drift
from service.stats.intervals import MetricValue, wilson
from service.stats.labels import label_coverage
from service.stats.layout import Layout
from service.stats.outcomes import OVERALL, Outcomes
from service.stats.profile import Profile
from service.stats.quality import FeatureQuality, evaluate_quality
from service.windows.figures_base import (
    DATA_QUALITY,
    EXPLANATION,
    Decider,
    Estimate,
    Figure,
    Limit,
    finite,
    judged,
)
from service.windows.figures_drift import drift_figures
from service.windows.figures_fairness import fairness_figures
from service.windows.figures_outcomes import estimated_figures, performance_figures
from service.windows.policy import EvaluationPolicy

__all__ = ["Figure", "WindowFigures", "evaluate_window"]


@dataclass(frozen=True, slots=True)
class WindowFigures:
    """Every figure of one window; ``rows`` counts all the window's rows, ``labelled`` the
    labelled ones, ``label_coverage`` = labelled / rows with a prediction (None if none)."""

    rows: int
    labelled: int
    label_coverage: float | None
    figures: tuple[Figure, ...]


# ---------------------------------------------------------------- data quality


def _proportion(metric: str, part: int, whole: int, level: float) -> MetricValue:
    """part / whole with its Wilson interval at ``level`` (insufficient without a denominator)."""
    if whole <= 0:
        return MetricValue.insufficient(metric, n=whole, method="wilson")
    interval = wilson(successes=part, trials=whole, confidence=level)
    return MetricValue.ok(metric, value=part / whole, n=whole, interval=interval, method="wilson")


def _quality_row(q: FeatureQuality, metric: MetricValue, limit: Limit | None, decider: Decider) -> Figure:
    return judged(DATA_QUALITY, metric, limit, decider, feature=q.feature)


def _missing_limit(q: FeatureQuality, increase: float, level: float) -> Limit | None:
    """Alert above min(1, reference rate + increase); relative to the reference's rate, so
    the decision is the two-proportion (Newcombe) interval of window − reference."""
    ref_rows = q.reference_rows
    if not ref_rows:
        return None
    reference = _proportion("missing_rate", q.reference_missing, ref_rows, level)
    assert reference.value is not None
    estimate = Estimate(reference.value, reference.ci_low, reference.ci_high)
    return Limit(high=min(1.0, reference.value + increase), reference=estimate)


def quality_figures(
    layout: Layout, reference: Profile, window: Profile, policy: EvaluationPolicy, decider: Decider
) -> list[Figure]:
    """missing_rate, then out_of_range_share or unseen_share, of every feature (rule 2).

    Decisions are simultaneous over the family's 2 × features figures (``Decider.level``).
    """
    settings = policy.quality
    # evaluate_quality checks the window's rows; min_rows applies to the reference too.
    enough = reference.rows >= policy.min_rows
    results = evaluate_quality(layout=layout, reference=reference, window=window, min_rows=policy.min_rows)
    level = decider.level(2 * len(results))
    figures: list[Figure] = []
    for q in results:
        ok = enough and q.status == "ok"
        missing = _proportion("missing_rate", q.missing, q.rows if ok else 0, level)
        missing_limit = _missing_limit(q, settings.max_missing_rate_increase, level)
        figures.append(_quality_row(q, replace(missing, n=q.rows), missing_limit, decider))
        present = q.rows - q.missing
        if q.kind == "numeric":
            share = _proportion("out_of_range_share", q.out_of_range or 0, present if ok else 0, level)
            limit = Limit(high=settings.max_out_of_range_share)
        else:
            share = _proportion("unseen_share", q.unseen or 0, present if ok else 0, level)
            limit = Limit(high=settings.max_unseen_share)
        figures.append(_quality_row(q, replace(share, n=present), limit, decider))
    return figures


# ---------------------------------------------------------------- explanation


def explanation_figures(
    reference: Profile, window: Profile, policy: EvaluationPolicy, decider: Decider
) -> list[Figure]:
    """ndcg (alert below min_ndcg), then each feature's mean |attribution| in the window (rule 6)."""
    settings = policy.explanation
    result = explanation_drift(
        reference=reference.attribution_sums(), current=window.attribution_sums(), top_k=settings.top_k
    )
    figures = [judged(EXPLANATION, result.ndcg, Limit(low=settings.min_ndcg), decider)]
    return figures + [
        judged(EXPLANATION, f.current, None, decider, feature=f.feature) for f in result.features
    ]


# ---------------------------------------------------------------- the window


def _label_counts(outcomes: Outcomes) -> tuple[int, int]:
    """(rows with a prediction, labelled rows) of one group's outcomes, whatever the task."""
    if outcomes.binary is not None:
        return outcomes.binary.n, outcomes.binary.labelled
    if outcomes.multiclass is not None:
        return outcomes.multiclass.n, outcomes.multiclass.labelled
    if outcomes.regression is not None:
        return outcomes.regression.n, outcomes.regression.labelled
    return 0, 0


def decider_of(policy: EvaluationPolicy) -> Decider:
    return Decider(policy.decision, policy.confidence)


def evaluate_window(
    *, layout: Layout, reference: Profile, window: Profile, policy: EvaluationPolicy, final: bool
) -> WindowFigures:
    """Every enabled family's figures for one window (see the module docstring for the rules).

    ``final``: the window's label wait is over, so late labels will no longer change it.
    """
    if reference.layout_hash != layout.content_hash or window.layout_hash != layout.content_hash:
        raise ValueError("profiles were built on a different layout")
    predicted, labelled = _label_counts(window.outcomes[OVERALL])
    coverage = label_coverage(labelled=labelled, predicted=predicted)
    early = not final and coverage is not None and coverage < policy.label_coverage
    decider = decider_of(policy)
    figures: list[Figure] = []
    if policy.drift.enabled:
        figures += drift_figures(layout, reference, window, policy, decider)
    if policy.quality.enabled:
        figures += quality_figures(layout, reference, window, policy, decider)
    performance = policy.performance
    if performance.enabled:
        ref_outcomes = reference.outcomes[OVERALL]
        figures += performance_figures(layout, window, ref_outcomes, performance, decider, early=early)
        if performance.estimated:
            figures += estimated_figures(layout, reference, window, performance, decider)
    if policy.fairness.enabled and layout.attributes:
        figures += fairness_figures(layout, reference, window, policy, decider, early=early)
    if policy.explanation.enabled and window.attributions:
        figures += explanation_figures(reference, window, policy, decider)
    return WindowFigures(window.rows, labelled, coverage, tuple(finite(f) for f in figures))
