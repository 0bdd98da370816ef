"""Model-health gauges from the figures of each version's newest evaluated window.

Pure: rows in, metric families out (no database, no clock). The cardinality budget is
applied here: per (model, version), the feature series are those of the monitor's
configured drift features, the two output columns (``prediction``, ``score``) and the
``top_k`` features with the largest drift score; per fairness attribute, the
``max_groups`` largest groups. Every other subject is dropped and counted in
``modelmon_metrics_omitted_subjects``. Series counts per model: docs/metrics.md.

A multiclass model has each fairness disparity once per class (the figure's ``feature``
names the class). Per (attribute, metric) the gauges show its worst class — alert before
watch before the rest, then the largest difference or smallest ratio — so the series count
does not grow with the classes and a breach in any class shows; the API names the class.
Per-class group rates are not exported.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from service.export.repository import FigureRow, LatestRun
from service.kernel.states import FigureStatus
from service.stats.disparities import DISPARITY
from service.stats.multivariate import NAME as MULTIVARIATE

OUTPUT_COLUMNS = frozenset({"prediction", "score"})

Labels = tuple[str, ...]


@dataclass
class Family:
    """One gauge: name, help, label names and (label values → value) samples."""

    name: str
    documentation: str
    labels: Labels
    samples: dict[Labels, float] = field(default_factory=dict)

    def add(self, values: Labels, value: float | None) -> None:
        if value is not None:
            self.samples[values] = float(value)


def families_of(specs: Sequence[tuple[str, str, Labels]]) -> dict[str, Family]:
    return {name: Family(name, doc, labels) for name, doc, labels in specs}


MV: Labels = ("model", "version")
FEATURE: Labels = (*MV, "feature")
FEATURE_METRIC: Labels = (*MV, "feature", "metric")
METRIC: Labels = (*MV, "metric")
ATTRIBUTE: Labels = (*MV, "attribute", "metric")
GROUP: Labels = (*MV, "attribute", "group", "metric")

MODEL_FAMILIES: tuple[tuple[str, str, Labels], ...] = (
    ("modelmon_window_end_timestamp_seconds", "End of the newest evaluated window (Unix time).", MV),
    ("modelmon_window_rows", "Predictions in the newest evaluated window.", MV),
    ("modelmon_window_labelled_rows", "Predictions with an outcome in the newest evaluated window.", MV),
    ("modelmon_label_coverage_ratio", "Labelled share of the newest evaluated window's rows.", MV),
    ("modelmon_feature_drift_score", "Drift effect size of a feature or output column.", FEATURE),
    ("modelmon_feature_drifted", "1 when the feature's drift test alerts.", FEATURE),
    (
        "modelmon_feature_drift_watch",
        "1 when the drift effect is past its threshold without significance.",
        FEATURE,
    ),
    (
        "modelmon_multivariate_drift_score",
        "Drift effect size of the rows' PCA reconstruction error (W1 / reference std).",
        MV,
    ),
    ("modelmon_multivariate_drifted", "1 when the multivariate drift test alerts.", MV),
    (
        "modelmon_multivariate_drift_watch",
        "1 when the multivariate drift effect is past its threshold without significance.",
        MV,
    ),
    ("modelmon_data_quality_ratio", "A data-quality share of a feature.", FEATURE_METRIC),
    ("modelmon_data_quality_breached", "1 when the share is over its threshold on evidence.", FEATURE_METRIC),
    (
        "modelmon_data_quality_watch",
        "1 when the share is over its threshold, not on evidence.",
        FEATURE_METRIC,
    ),
    ("modelmon_performance_value", "Realised performance metric from labelled rows.", METRIC),
    ("modelmon_performance_ci_lower", "Lower bound of the realised metric's decision interval.", METRIC),
    ("modelmon_performance_ci_upper", "Upper bound of the realised metric's decision interval.", METRIC),
    ("modelmon_performance_provisional", "1 while labels still arrive.", METRIC),
    ("modelmon_performance_breached", "1 when the metric breaks its threshold on evidence.", METRIC),
    ("modelmon_performance_watch", "1 when the metric is past its threshold, not on evidence.", METRIC),
    ("modelmon_estimated_performance_value", "Performance estimated from scores, without labels.", METRIC),
    ("modelmon_estimated_performance_ci_lower", "Lower bound of the estimate's decision interval.", METRIC),
    ("modelmon_estimated_performance_ci_upper", "Upper bound of the estimate's decision interval.", METRIC),
    (
        "modelmon_estimated_performance_breached",
        "1 when the estimate breaks its threshold on evidence.",
        METRIC,
    ),
    (
        "modelmon_estimated_performance_watch",
        "1 when the estimate is past its threshold, not on evidence.",
        METRIC,
    ),
    ("modelmon_fairness_value", "Disparity of a protected attribute.", ATTRIBUTE),
    ("modelmon_fairness_ci_lower", "Lower bound of the disparity's simultaneous interval.", ATTRIBUTE),
    ("modelmon_fairness_ci_upper", "Upper bound of the disparity's simultaneous interval.", ATTRIBUTE),
    ("modelmon_fairness_breached", "1 when the disparity breaks its threshold on evidence.", ATTRIBUTE),
    ("modelmon_fairness_watch", "1 when the disparity is past its threshold, not on evidence.", ATTRIBUTE),
    (
        "modelmon_fairness_group_rate",
        "A per-group figure: selection_rate, tpr, fpr, ppv, calibration.",
        GROUP,
    ),
    ("modelmon_explanation_value", "nDCG of the importance ranking.", METRIC),
    ("modelmon_explanation_breached", "1 when the nDCG is below its minimum.", METRIC),
    ("modelmon_explanation_watch", "1 when the nDCG is below its minimum, not on evidence.", METRIC),
    ("modelmon_metrics_omitted_subjects", "Features and groups left out by the cardinality budget.", MV),
)


@dataclass(frozen=True, slots=True)
class Budget:
    top_k_features: int
    max_groups: int


def _flag(status: str) -> float:
    return 1.0 if status == FigureStatus.ALERT else 0.0


def _watch(status: str) -> float:
    return 1.0 if status == FigureStatus.WATCH else 0.0


def _chosen_features(rows: Sequence[FigureRow], configured: frozenset[str], top_k: int) -> set[str]:
    """Configured ∪ output columns ∪ the ``top_k`` largest drift scores (features without a
    drift score, e.g. not among a configured ``drift.features``, rank last by name)."""
    scores = {r.feature: r.value for r in rows if r.family == "drift" and r.metric == "drift_score"}
    named = {r.feature for r in rows if r.feature and r.family != "fairness"}
    ranked = sorted(named - OUTPUT_COLUMNS, key=lambda f: (scores.get(f) is None, -(scores.get(f) or 0.0), f))
    return set(ranked[:top_k]) | (configured & named) | (OUTPUT_COLUMNS & named)


def _chosen_groups(rows: Iterable[FigureRow], max_groups: int) -> set[tuple[str, str]]:
    sizes: dict[str, dict[str, int]] = defaultdict(dict)
    for r in rows:
        if r.family == "fairness" and r.group and r.metric == "selection_rate":
            sizes[r.attribute][r.group] = r.n
    chosen: set[tuple[str, str]] = set()
    for attribute, groups in sizes.items():
        largest = sorted(groups, key=lambda g: (-groups[g], g))[:max_groups]
        chosen.update((attribute, g) for g in largest)
    return chosen


_SEVERITY: dict[str, int] = {FigureStatus.ALERT: 2, FigureStatus.WATCH: 1}


def _keep_worst(worst: dict[Labels, FigureRow], row: FigureRow) -> None:
    """Keep the per-class disparity ``row`` if it is its (attribute, metric)'s worst so far
    (module doc); per-class group rates are skipped."""
    spec = DISPARITY.get(row.metric)
    if row.group or spec is None or row.value is None:
        return
    key = (row.attribute, row.metric)
    sign = -1.0 if spec.form == "ratio" else 1.0

    def rank(r: FigureRow) -> tuple[int, float]:
        return _SEVERITY.get(r.status, 0), sign * (r.value or 0.0)

    if key not in worst or rank(row) > rank(worst[key]):
        worst[key] = row


class ModelFamilies:
    """The model-health gauges of one snapshot, filled run by run."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.by_name = families_of(MODEL_FAMILIES)

    def _set(self, name: str, values: Labels, value: float | None) -> None:
        self.by_name[name].add(values, value)

    def add_run(self, run: LatestRun, rows: Sequence[FigureRow], configured: frozenset[str]) -> None:
        mv = (run.model, run.version)
        self._set("modelmon_window_end_timestamp_seconds", mv, run.window_end.timestamp())
        self._set("modelmon_window_rows", mv, run.rows)
        self._set("modelmon_window_labelled_rows", mv, run.labelled)
        self._set("modelmon_label_coverage_ratio", mv, run.label_coverage)
        features = _chosen_features(rows, configured, self.budget.top_k_features)
        groups = _chosen_groups(rows, self.budget.max_groups)
        omitted: set[tuple[str, str]] = set()
        worst: dict[Labels, FigureRow] = {}
        for row in rows:
            if row.family == "fairness" and row.feature:
                _keep_worst(worst, row)
            elif row.feature and row.feature not in features:
                omitted.add(("", row.feature))
            elif row.group and (row.attribute, row.group) not in groups:
                omitted.add((row.attribute, row.group))
            else:
                self._add_figure(mv, row)
        for row in worst.values():
            self._fairness(mv, row)
        self._set("modelmon_metrics_omitted_subjects", mv, len(omitted))

    def _add_figure(self, mv: Labels, row: FigureRow) -> None:
        handler = _HANDLERS.get(row.family)
        if handler is not None:
            handler(self, mv, row)

    def _drift(self, mv: Labels, row: FigureRow) -> None:
        if row.metric == "drift_score":
            self._set("modelmon_feature_drift_score", (*mv, row.feature), row.value)
            self._set("modelmon_feature_drifted", (*mv, row.feature), _flag(row.status))
            self._set("modelmon_feature_drift_watch", (*mv, row.feature), _watch(row.status))
        elif row.metric == MULTIVARIATE:
            self._set("modelmon_multivariate_drift_score", mv, row.value)
            self._set("modelmon_multivariate_drifted", mv, _flag(row.status))
            self._set("modelmon_multivariate_drift_watch", mv, _watch(row.status))

    def _quality(self, mv: Labels, row: FigureRow) -> None:
        labels = (*mv, row.feature, row.metric)
        self._set("modelmon_data_quality_ratio", labels, row.value)
        self._set("modelmon_data_quality_breached", labels, _flag(row.status))
        self._set("modelmon_data_quality_watch", labels, _watch(row.status))

    def _performance(self, mv: Labels, row: FigureRow) -> None:
        if row.attribute:
            return  # per-group performance is not exported: fairness rates cover groups
        labels = (*mv, row.metric)
        self._set("modelmon_performance_value", labels, row.value)
        self._set("modelmon_performance_ci_lower", labels, row.ci_low)
        self._set("modelmon_performance_ci_upper", labels, row.ci_high)
        self._set(
            "modelmon_performance_provisional", labels, 1.0 if row.status == FigureStatus.PROVISIONAL else 0.0
        )
        self._set("modelmon_performance_breached", labels, _flag(row.status))
        self._set("modelmon_performance_watch", labels, _watch(row.status))

    def _estimated(self, mv: Labels, row: FigureRow) -> None:
        labels = (*mv, row.metric)
        self._set("modelmon_estimated_performance_value", labels, row.value)
        self._set("modelmon_estimated_performance_ci_lower", labels, row.ci_low)
        self._set("modelmon_estimated_performance_ci_upper", labels, row.ci_high)
        self._set("modelmon_estimated_performance_breached", labels, _flag(row.status))
        self._set("modelmon_estimated_performance_watch", labels, _watch(row.status))

    def _fairness(self, mv: Labels, row: FigureRow) -> None:
        if row.group:
            self._set("modelmon_fairness_group_rate", (*mv, row.attribute, row.group, row.metric), row.value)
            return
        labels = (*mv, row.attribute, row.metric)
        self._set("modelmon_fairness_value", labels, row.value)
        self._set("modelmon_fairness_ci_lower", labels, row.ci_low)
        self._set("modelmon_fairness_ci_upper", labels, row.ci_high)
        self._set("modelmon_fairness_breached", labels, _flag(row.status))
        self._set("modelmon_fairness_watch", labels, _watch(row.status))

    def _explanation(self, mv: Labels, row: FigureRow) -> None:
        if row.metric == "ndcg":
            self._set("modelmon_explanation_value", (*mv, row.metric), row.value)
            self._set("modelmon_explanation_breached", (*mv, row.metric), _flag(row.status))
            self._set("modelmon_explanation_watch", (*mv, row.metric), _watch(row.status))


_HANDLERS = {
    "drift": ModelFamilies._drift,
    "data_quality": ModelFamilies._quality,
    "performance": ModelFamilies._performance,
    "estimated_performance": ModelFamilies._estimated,
    "fairness": ModelFamilies._fairness,
    "explanation": ModelFamilies._explanation,
}
