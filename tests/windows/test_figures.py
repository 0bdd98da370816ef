"""``evaluate_window`` against direct calls of the ``service.stats`` functions as oracles.

Seeded synthetic windows: 5 numeric features (N(0, 1)), 2 categorical ones, protected
attributes ``sex`` and ``band`` (with a ``rare`` group of a few rows), a calibrated binary
model (y ~ Bernoulli(score)) and attributions whose importance order can be reversed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pytest
from scipy import stats as scipy_stats

from service.kernel.states import FigureStatus
from service.monitors.schemas import (
    Bound,
    DriftSettings,
    ExplanationSettings,
    FairnessSettings,
    MonitorConfig,
    PerformanceSettings,
    QualitySettings,
)
from service.stats.estimated import calibrate, estimate_performance
from service.stats.explanation import explanation_drift
from service.stats.fairness import fairness_report, representation_shift
from service.stats.fdr import benjamini_hochberg
from service.stats.intervals import newcombe_difference, wilson
from service.stats.layout import Batch, Layout, Task, fit_layout
from service.stats.performance import binary_performance
from service.stats.profile import Profile, build_profile, group_outcomes, reference_profile
from service.stats.quality import evaluate_quality
from service.stats.verdict import DriftConfig, DriftReport, evaluate_drift
from service.windows.figures import Figure, WindowFigures, evaluate_window
from service.windows.figures_base import FAMILIES, finite
from service.windows.policy import evaluation_policy

NUMERIC = ("x0", "x1", "x2", "x3", "x4")
CATEGORICAL = {"c0": ("a", "b", "c", "d"), "c1": ("p", "q", "r")}
BANDS = ("young", "mid", "old")
IMPORTANCE = (5.0, 4.0, 3.0, 2.0, 1.0)
BINARY_METRICS = (
    "accuracy",
    "precision",
    "recall",
    "specificity",
    "f1",
    "brier",
    "log_loss",
    "roc_auc",
    "pr_auc",
    "ece",
)
STATUSES = {"ok", "alert", "watch", "insufficient_data", "provisional"}
DEFAULT = MonitorConfig()


def simultaneous(decisions: int, confidence: float = 0.95) -> float:
    """The documented level of each interval in a family of ``decisions`` (Bonferroni)."""
    return 1.0 - (1.0 - confidence) / decisions


@dataclass(frozen=True)
class Spec:
    """One draw. ``shift``: numeric + value (in std), categorical: that share of mass moved to
    the last level; ``missing`` / ``unseen``: shares per column; ``gap`` raises the logit of
    sex = F; ``flip``: labels ~ Bernoulli(1 − score) (a model worse than chance)."""

    rows: int
    seed: int
    task: Task = "binary_classification"
    shift: Mapping[str, float] = field(default_factory=dict)
    missing: Mapping[str, float] = field(default_factory=dict)
    unseen: Mapping[str, float] = field(default_factory=dict)
    labelled: float = 1.0
    flip: bool = False
    gap: float = 0.0
    female: float = 0.5
    rare: int = 60
    importance: tuple[float, ...] | None = IMPORTANCE


def _drop(rng: np.random.Generator, column: Any, share: float) -> Any:
    out = column.copy()
    out[rng.random(out.size) < share] = np.nan if out.dtype.kind == "f" else None
    return out


def _features(rng: np.random.Generator, s: Spec) -> tuple[dict[str, Any], dict[str, Any]]:
    numeric = {
        n: _drop(rng, rng.normal(0.0, 1.0, s.rows) + s.shift.get(n, 0.0), s.missing.get(n, 0.0))
        for n in NUMERIC
    }
    categorical: dict[str, Any] = {}
    for name, levels in CATEGORICAL.items():
        k, moved = len(levels), s.shift.get(name, 0.0)
        p = (1.0 - moved) * np.full(k, 1.0 / k) + moved * np.eye(k)[-1]
        column = np.asarray(levels, dtype=object)[rng.choice(k, s.rows, p=p)]
        column[rng.random(s.rows) < s.unseen.get(name, 0.0)] = "never-seen"
        categorical[name] = _drop(rng, column, s.missing.get(name, 0.0))
    return numeric, categorical


def _outputs(rng: np.random.Generator, s: Spec, logit: Any) -> tuple[Any, Any, Any]:
    """(predictions, scores, labels) of the spec's task."""
    labelled = rng.random(s.rows) < s.labelled
    if s.task == "regression":
        y = 10.0 + 3.0 * logit + rng.normal(0.0, 1.0, s.rows)
        predicted = y + rng.normal(0.3, 1.0, s.rows)
        y[~labelled] = np.nan
        return predicted, None, y
    if s.task == "multiclass_classification":
        classes = np.array(["k0", "k1", "k2"], dtype=object)
        predicted = classes[np.digitize(logit, [-0.5, 0.5])]
        labels = np.where(rng.random(s.rows) < 0.7, predicted, classes[rng.integers(0, 3, s.rows)])
        labels[~labelled] = None
        return predicted, None, labels
    scores = 1.0 / (1.0 + np.exp(-logit))
    actual = rng.random(s.rows) < (1.0 - scores if s.flip else scores)
    labels = np.where(actual, "yes", "no").astype(object)
    labels[~labelled] = None
    return np.where(scores >= 0.5, "yes", "no").astype(object), scores, labels


def make_batch(spec: Spec) -> Batch:
    rng = np.random.default_rng(spec.seed)
    numeric, categorical = _features(rng, spec)
    female = rng.random(spec.rows) < spec.female
    band = np.asarray(BANDS, dtype=object)[rng.integers(0, 3, spec.rows)]
    band[: spec.rare] = "rare"
    logit = np.nan_to_num(numeric["x0"] - 0.5 * numeric["x1"]) + spec.gap * female - 0.5
    predictions, scores, labels = _outputs(rng, spec, logit)
    attributions = {}
    if spec.importance is not None:
        attributions = {
            n: w * rng.normal(0.0, 1.0, spec.rows) for n, w in zip(NUMERIC, spec.importance, strict=True)
        }
    return Batch(
        rows=spec.rows,
        numeric=numeric,
        categorical=categorical,
        predictions=predictions,
        scores=scores,
        labels=labels,
        attributes={"sex": np.where(female, "F", "M").astype(object), "band": band},
        attributions=attributions,
    )


@dataclass(frozen=True)
class Setup:
    layout: Layout
    reference: Profile

    def window(self, **spec: Any) -> Profile:
        return build_profile(self.layout, make_batch(Spec(**{"rows": 2_000, "seed": 7, **spec})))

    def evaluate(
        self, window: Profile, config: MonitorConfig = DEFAULT, *, final: bool = False
    ) -> WindowFigures:
        return evaluate_window(
            layout=self.layout,
            reference=self.reference,
            window=window,
            policy=evaluation_policy(config),
            final=final,
        )


def _setup(task: Task) -> Setup:
    batch = make_batch(Spec(4_000, seed=1, task=task, missing={"x1": 0.02}))
    positive = "yes" if task == "binary_classification" else None
    layout = fit_layout(task=task, reference=batch, positive_label=positive, intersections=[("sex", "band")])
    return Setup(layout, reference_profile(layout, batch))  # what the layout job stores


@pytest.fixture(scope="module")
def binary() -> Setup:
    return _setup("binary_classification")


def pick(result: WindowFigures, family: str, metric: str, **subject: str | None) -> Figure:
    found = [
        f
        for f in result.figures
        if f.family == family and f.metric == metric and all(getattr(f, k) == v for k, v in subject.items())
    ]
    assert len(found) == 1, (family, metric, subject, found)
    return found[0]


def family(result: WindowFigures, name: str) -> list[Figure]:
    return [f for f in result.figures if f.family == name]


def drift(setup: Setup, window: Profile, config: MonitorConfig = DEFAULT, *, fdr: bool = True) -> DriftReport:
    """The oracle: ``evaluate_drift`` on the whole layout with the configuration's thresholds."""
    d, n = config.drift, config.min_rows
    settings = DriftConfig(
        alpha=d.alpha,
        numeric_effect_threshold=d.numeric_threshold,
        categorical_effect_threshold=d.categorical_threshold,
        min_window_rows=n,
        min_reference_rows=n,
        fdr=fdr,
        outputs=d.outputs,
        multivariate=d.multivariate,
    )
    return evaluate_drift(layout=setup.layout, reference=setup.reference, window=window, config=settings)


def group_rows(profile: Profile, attributes: tuple[str, ...]) -> dict[str, int]:
    return {"|".join(k): o.rows for k, o in group_outcomes(profile, attributes).items()}


# ---------------------------------------------------------------- drift and quality


def test_only_drifted_features_alert_and_p_value_is_the_bh_q_value(binary: Setup) -> None:
    window = binary.window(shift={"x3": 0.5, "c1": 0.3})
    result = binary.evaluate(window)
    alerts = {f.feature for f in family(result, "drift") if f.status == "alert"}
    assert alerts == {"x3", "c1"}
    oracle = drift(binary, window)
    mv = "multivariate_reconstruction_error"
    assert [f.feature for f in oracle.features] == [*NUMERIC, *CATEGORICAL, "prediction", "score", mv]
    for verdict in oracle.features:
        names = (
            (mv, "multivariate_p_value", None)
            if verdict.feature == mv
            else ("drift_score", "p_value", verdict.feature)
        )
        score = pick(result, "drift", names[0], feature=names[2])
        p_value = pick(result, "drift", names[1], feature=names[2])
        assert (score.value, score.threshold) == (verdict.effect_size, verdict.threshold)
        assert score.n == p_value.n == verdict.n_window
        assert (p_value.value, p_value.threshold) == (verdict.q_value, 0.05)
        expected = "alert" if verdict.status == "drift" else "ok"
        if verdict.feature == mv and verdict.status == "drift" and score.ci_low is not None:
            # x3's shift moves the reconstruction error too, by less: decided on its interval.
            expected = "alert" if score.ci_low >= verdict.threshold else "watch"
        assert score.status == p_value.status == expected


@pytest.mark.slow
def test_drift_alerts_only_when_the_effect_is_past_its_threshold_on_evidence(binary: Setup) -> None:
    """Small windows with moderate shifts: a significant test and a point effect past 0.1 are not
    enough; the effect's lower limit effect − z·se must reach 0.1, z at the level simultaneous
    over the 10 tested columns (9 and the multivariate error). Else watch. ``decision: point``
    keeps the old rule."""
    z = float(scipy_stats.norm.ppf(1 - (1 - simultaneous(10)) / 2))
    seen = set()
    for seed, shift in enumerate((0.3, 0.4, 0.5, 0.6, 0.8, 1.2)):
        window = binary.window(rows=150, shift={"x3": shift}, seed=60 + seed)
        result, point = binary.evaluate(window), binary.evaluate(window, MonitorConfig(decision="point"))
        for verdict in drift(binary, window).features[:-1]:  # the last: the multivariate error
            score = pick(result, "drift", "drift_score", feature=verdict.feature)
            old = pick(point, "drift", "drift_score", feature=verdict.feature)
            assert old.status == ("alert" if verdict.status == "drift" else score.status)
            if verdict.status != "drift":
                continue
            assert verdict.effect_size is not None and verdict.effect_se is not None
            low = verdict.effect_size - z * verdict.effect_se
            assert score.ci_low == pytest.approx(max(0.0, low), rel=1e-9)
            assert score.status == ("alert" if low >= verdict.threshold else "watch")
            seen.add(score.status)
    assert seen == {"alert", "watch"}  # both outcomes occur among these windows


def test_feature_filter_runs_bh_over_the_selected_columns_only(binary: Setup) -> None:
    window = binary.window(shift={"x3": 0.1, "c1": 0.05})
    config = MonitorConfig(
        drift=DriftSettings(features=["x3", "c1", "unknown"], outputs=False, multivariate=False)
    )
    figures = family(binary.evaluate(window, config), "drift")
    assert [(f.feature, f.metric) for f in figures] == [
        (c, m) for c in ("x3", "c1") for m in ("drift_score", "p_value")
    ]
    p = {f.feature: f.p_value for f in drift(binary, window, config, fdr=False).features}
    expected = dict(zip(("x3", "c1"), benjamini_hochberg([p["x3"], p["c1"]]), strict=True))
    full = {f.feature: f.q_value for f in drift(binary, window, config).features}
    for feature in ("x3", "c1"):
        q = pick(binary.evaluate(window, config), "drift", "p_value", feature=feature).value
        assert q == pytest.approx(expected[feature], rel=1e-12)
        assert q != pytest.approx(full[feature], rel=1e-6)  # the whole-layout family would differ
    with_outputs = MonitorConfig(drift=DriftSettings(features=["x3"], multivariate=False))
    outputs = {f.feature for f in family(binary.evaluate(window, with_outputs), "drift")}
    assert outputs == {"x3", "prediction", "score"}


def test_quality_spikes_alert_against_their_thresholds(binary: Setup) -> None:
    window = binary.window(missing={"x1": 0.3}, unseen={"c0": 0.2}, shift={"x2": 10.0})
    result = binary.evaluate(window)
    alerts = {(f.metric, f.feature) for f in family(result, "data_quality") if f.status == "alert"}
    assert alerts == {("missing_rate", "x1"), ("unseen_share", "c0"), ("out_of_range_share", "x2")}
    oracle = {
        q.feature: q
        for q in evaluate_quality(layout=binary.layout, reference=binary.reference, window=window)
    }
    missing = pick(result, "data_quality", "missing_rate", feature="x1")
    ref_rate = oracle["x1"].reference_missing_rate
    assert ref_rate is not None and ref_rate > 0.01
    assert missing.value == oracle["x1"].missing_rate
    assert missing.threshold == pytest.approx(ref_rate + 0.1, rel=1e-12)
    assert pick(result, "data_quality", "unseen_share", feature="c0").value == oracle["c0"].unseen_share
    assert pick(result, "data_quality", "out_of_range_share", feature="x4").status == "ok"
    small = Setup(binary.layout, build_profile(binary.layout, make_batch(Spec(50, seed=3))))
    assert {f.status for f in family(small.evaluate(window), "data_quality")} == {"insufficient_data"}


def _with_missing(setup: Setup, rows: int, missing: int) -> Profile:
    """A window of ``rows`` rows in which exactly ``missing`` values of x1 are missing."""
    batch = make_batch(Spec(rows, seed=40 + rows))
    x1 = np.array(batch.numeric["x1"], dtype=np.float64)
    x1[:missing] = np.nan
    return build_profile(setup.layout, replace(batch, numeric={**batch.numeric, "x1": x1}))


@pytest.mark.parametrize(
    ("rows", "missing", "expected"),
    [(2_000, 600, "alert"), (150, 27, "watch"), (150, 12, "ok"), (2_000, 380, "alert"), (400, 60, "watch")],
)
def test_a_missing_rate_increase_is_a_two_proportion_decision(
    binary: Setup, rows: int, missing: int, expected: str
) -> None:
    """The missing rate alerts when Newcombe's interval for window − reference lies above the
    allowed increase (0.1): 2 % → 30 % at 2,000 rows is evidence; 2 % → 18 % in 150 rows is past
    the threshold (≈ 0.12) but not evidence, so it is ``watch``."""
    level = simultaneous(2 * 7)  # the family: missing rate and one share for each of 7 features
    window = _with_missing(binary, rows, missing)
    figure = pick(binary.evaluate(window), "data_quality", "missing_rate", feature="x1")
    ref = {
        q.feature: q
        for q in evaluate_quality(layout=binary.layout, reference=binary.reference, window=window)
    }
    low, _ = newcombe_difference(
        successes_a=missing,
        trials_a=rows,
        successes_b=ref["x1"].reference_missing,
        trials_b=ref["x1"].reference_rows,
        confidence=level,
    )
    assert figure.status == expected, figure
    assert (figure.status == "alert") == (low > 0.1)
    assert (figure.ci_low, figure.ci_high) == wilson(successes=missing, trials=rows, confidence=level)


# ---------------------------------------------------------------- performance


def _reference_metric(setup: Setup, metric: str) -> float:
    outcomes = setup.reference.outcomes[()]
    assert outcomes.binary is not None
    value = binary_performance(counts=outcomes.binary, histogram=outcomes.scores).get(metric).value
    assert value is not None
    return value


def test_default_thresholds_are_relative_to_the_reference(binary: Setup) -> None:
    healthy, degraded = (
        binary.evaluate(binary.window(), final=True),
        binary.evaluate(binary.window(flip=True), final=True),
    )
    names = [f.metric for f in family(healthy, "performance")]
    assert names == list(BINARY_METRICS)
    for metric, sign in (("accuracy", -1), ("roc_auc", -1), ("brier", +1), ("ece", +1)):
        expected = _reference_metric(binary, metric) + sign * 0.05
        assert pick(healthy, "performance", metric).threshold == pytest.approx(expected, rel=1e-12)
        assert pick(healthy, "performance", metric).status == "ok"
        assert pick(degraded, "performance", metric).status == "alert"
    window = binary.window(flip=True).outcomes[()]
    assert window.binary is not None
    # every metric has a reference value, so each is one of len(names) simultaneous decisions
    level = simultaneous(len(names))
    oracle = binary_performance(counts=window.binary, histogram=window.scores, confidence=level)
    for figure in family(degraded, "performance"):
        m = oracle.get(figure.metric)
        assert (figure.value, figure.ci_low, figure.ci_high, figure.n) == (m.value, m.ci_low, m.ci_high, m.n)


def test_explicit_bounds_override_the_reference(binary: Setup) -> None:
    thresholds = {"accuracy": Bound(min=0.99), "brier": Bound(max=0.9), "recall": Bound(min=0.0, max=0.05)}
    result = binary.evaluate(
        binary.window(), MonitorConfig(performance=PerformanceSettings(thresholds=thresholds)), final=True
    )
    accuracy, brier, recall = (pick(result, "performance", m) for m in ("accuracy", "brier", "recall"))
    assert (accuracy.threshold, accuracy.status) == (0.99, "alert")
    assert (brier.threshold, brier.status) == (0.9, "ok")
    assert recall.value is not None and recall.value > 0.05
    assert (recall.threshold, recall.status) == (0.05, "alert")  # the violated (nearest) bound
    assert pick(result, "estimated_performance", "accuracy").threshold == 0.99


def test_provisional_until_coverage_or_label_wait(binary: Setup) -> None:
    window = binary.window(labelled=0.5)
    early, final = binary.evaluate(window, final=False), binary.evaluate(window, final=True)
    assert early.label_coverage is not None and 0.45 < early.label_coverage < 0.55
    assert early.label_coverage == early.labelled / 2_000
    assert {f.status for f in family(early, "performance")} == {"provisional"}
    assert "provisional" not in {f.status for f in family(early, "estimated_performance")}
    assert pick(early, "fairness", "tpr", attribute="sex", group="F").status == "provisional"
    assert pick(early, "fairness", "equalized_odds_difference", attribute="sex").status == "provisional"
    assert pick(early, "fairness", "selection_rate", attribute="sex", group="F").status == "ok"
    assert pick(early, "fairness", "statistical_parity_difference", attribute="sex").status != "provisional"
    assert all(f.status != "provisional" for f in final.figures)
    assert [f.value for f in final.figures] == [f.value for f in early.figures]
    covered = binary.evaluate(binary.window(labelled=0.9), final=False)
    assert all(f.status != "provisional" for f in covered.figures)


def test_too_few_labels_is_insufficient_not_provisional(binary: Setup) -> None:
    result = binary.evaluate(binary.window(labelled=0.005), final=False)
    assert 0 < result.labelled < 30
    for figure in family(result, "performance"):
        assert (figure.status, figure.value, figure.ci_low) == ("insufficient_data", None, None)
    assert pick(result, "performance", "accuracy").n == result.labelled


def test_estimated_performance_equals_estimate_performance(binary: Setup) -> None:
    window = binary.window(labelled=0.0, shift={"x0": 0.5})
    result = binary.evaluate(window)
    ref_scores, win_scores = binary.reference.outcomes[()].scores, window.outcomes[()].scores
    assert ref_scores is not None and win_scores is not None
    oracle = estimate_performance(
        calibration=calibrate(ref_scores),
        window=win_scores,
        threshold=0.5,
        min_n=30,
        confidence=simultaneous(5),
    )
    figures = family(result, "estimated_performance")
    assert [f.metric for f in figures] == ["accuracy", "precision", "recall", "f1", "roc_auc"]
    for figure, m in zip(figures, oracle.metrics, strict=True):
        assert m.status == "ok" and figure.status in ("ok", "watch", "alert")
        assert (figure.value, figure.ci_low, figure.ci_high, figure.n) == (m.value, m.ci_low, m.ci_high, m.n)
        assert figure.threshold == pytest.approx(_reference_metric(binary, m.metric) - 0.05, rel=1e-12)
    unlabelled = build_profile(binary.layout, make_batch(Spec(4_000, seed=1, labelled=0.0)))
    no_labels = Setup(binary.layout, unlabelled).evaluate(window)
    assert family(no_labels, "estimated_performance") == []
    assert all(f.threshold is None for f in family(no_labels, "performance"))


# ---------------------------------------------------------------- fairness and explanation


def test_selection_gap_alerts_statistical_parity_with_its_interval(binary: Setup) -> None:
    window = binary.window(gap=1.5)
    result = binary.evaluate(window, final=True)
    groups = {k[0]: o.binary for k, o in group_outcomes(window, ["sex"]).items() if o.binary is not None}
    # 3 groupings (sex, band, sex×band) × 6 disparities (5 rates + calibration): one family
    level = simultaneous(3 * 6)
    oracle = fairness_report(
        attribute="sex", groups=groups, expected_groups=["F", "M"], min_group_n=30, confidence=level
    )
    nominal = fairness_report(attribute="sex", groups=groups, expected_groups=["F", "M"], min_group_n=30)
    parity = pick(result, "fairness", "statistical_parity_difference", attribute="sex")
    d = oracle.disparity("statistical_parity_difference")
    assert (parity.value, parity.ci_low, parity.ci_high, parity.n) == (d.value, d.ci_low, d.ci_high, d.n)
    assert parity.value is not None and parity.value > 0.1
    assert (parity.status, parity.threshold) == ("alert", 0.1)
    impact = pick(result, "fairness", "disparate_impact_ratio", attribute="sex")
    assert (impact.status, impact.threshold) == ("alert", 0.8)
    fair = binary.evaluate(binary.window(), final=True)
    assert pick(fair, "fairness", "statistical_parity_difference", attribute="sex").status == "ok"
    rate = pick(result, "fairness", "selection_rate", attribute="sex", group="F")
    expected = nominal.group("F").rate("selection_rate")  # group rates: the nominal level
    assert (rate.value, rate.ci_low, rate.n, rate.threshold) == (
        expected.value,
        expected.ci_low,
        groups["F"].n,
        None,
    )


def test_tiny_groups_are_insufficient_and_intersections_are_named(binary: Setup) -> None:
    window = binary.window(rare=12)
    result = binary.evaluate(window, final=True)
    for metric in ("selection_rate", "tpr", "fpr", "ppv"):
        figure = pick(result, "fairness", metric, attribute="band", group="rare")
        assert (figure.status, figure.value, figure.ci_low) == ("insufficient_data", None, None)
    assert pick(result, "fairness", "selection_rate", attribute="band", group="mid").status == "ok"
    crossed = {f.group for f in family(result, "fairness") if f.attribute == "sex×band" and f.group}
    expected = {"|".join(k) for p in (binary.reference, window) for k in group_outcomes(p, ["sex", "band"])}
    assert crossed == expected and {"F|young", "M|old", "F|rare"} <= crossed
    assert pick(result, "fairness", "representation_shift", attribute="sex×band").n == 2_000
    # the configured minimum group size is the one applied (12 rows pass a minimum of 10)
    smaller = binary.evaluate(window, MonitorConfig(fairness=FairnessSettings(min_group_size=10)))
    rare = pick(smaller, "fairness", "selection_rate", attribute="band", group="rare")
    assert (rare.status, rare.n) == ("ok", 12)


def test_representation_shift_alerts_on_a_changed_group_mix(binary: Setup) -> None:
    window = binary.window(female=0.9)
    result = binary.evaluate(window)
    shift = pick(result, "fairness", "representation_shift", attribute="sex")
    ref, cur = group_rows(binary.reference, ("sex",)), group_rows(window, ("sex",))
    oracle = representation_shift(attribute="sex", reference=ref, current=cur, min_n=100)
    assert (shift.value, shift.n, shift.threshold, shift.status) == (oracle.cramers_v, 2_000, 0.1, "alert")
    same = binary.evaluate(binary.window())
    assert pick(same, "fairness", "representation_shift", attribute="sex").status == "ok"


@pytest.mark.parametrize("seed", [20, 24])
def test_representation_needs_a_bh_significant_test_not_only_a_large_v(binary: Setup, seed: int) -> None:
    # Small samples (200 reference rows, 120 window rows) where V ≥ 0.1 is not significant:
    # seed 20 has p ≥ α; seed 24 has p < α that BH across the three groupings lifts above α.
    small = Setup(binary.layout, build_profile(binary.layout, make_batch(Spec(200, seed=seed, rare=10))))
    window = small.window(rows=120, female=0.7, rare=6, seed=seed + 100)
    reports = [
        representation_shift(
            attribute="×".join(g),
            reference=group_rows(small.reference, g),
            current=group_rows(window, g),
            min_n=100,
        )
        for g in (("sex",), ("band",), ("sex", "band"))
    ]
    q = benjamini_hochberg([r.p_value for r in reports])
    v = reports[0].cramers_v
    assert v is not None and v >= 0.1 and q[0] is not None and q[0] >= 0.05
    figure = pick(small.evaluate(window), "fairness", "representation_shift", attribute="sex")
    assert (figure.value, figure.status) == (v, "watch")  # large, but not on evidence: never paged


def test_explanation_ndcg_alerts_when_the_ranking_is_reversed(binary: Setup) -> None:
    reversed_window = binary.window(importance=IMPORTANCE[::-1])
    result = binary.evaluate(reversed_window)
    oracle = explanation_drift(
        reference=binary.reference.attribution_sums(), current=reversed_window.attribution_sums()
    )
    ndcg = pick(result, "explanation", "ndcg")
    assert (ndcg.value, ndcg.threshold, ndcg.status) == (oracle.ndcg.value, 0.9, "alert")
    for importance in oracle.features:
        figure = pick(result, "explanation", "mean_abs_attribution", feature=importance.feature)
        assert (figure.value, figure.n) == (importance.current.value, importance.current.n)
    assert pick(binary.evaluate(binary.window()), "explanation", "ndcg").status == "ok"
    top_one = MonitorConfig(explanation=ExplanationSettings(top_k=1, min_ndcg=0.5))
    top = pick(binary.evaluate(reversed_window, top_one), "explanation", "ndcg")
    assert top.value == pytest.approx(0.2, abs=0.02) and top.threshold == 0.5
    assert family(binary.evaluate(binary.window(importance=None)), "explanation") == []


# ---------------------------------------------------------------- tasks, invariants


FAIRNESS_OF: dict[str, set[str]] = {
    "multiclass_classification": {
        "selection_rate", "tpr", "fpr", "ppv", "statistical_parity_difference", "disparate_impact_ratio",
        "equal_opportunity_difference", "equalized_odds_difference", "predictive_parity_difference",
        "predictive_equality_difference", "representation_shift",
    },
    "regression": {"mean_error", "mae", "mean_error_difference", "mae_difference", "representation_shift"},
}  # fmt: skip


@pytest.mark.parametrize(
    ("task", "metrics"),
    [
        ("multiclass_classification", ["accuracy", "f1_macro", "f1_weighted"]),
        ("regression", ["mae", "rmse", "mean_error", "r2", "mape"]),
    ],
)
def test_other_tasks_have_their_metrics_and_group_disparities(task: Task, metrics: list[str]) -> None:
    setup = _setup(task)
    result = setup.evaluate(setup.window(task=task, seed=9), final=True)
    assert [f.metric for f in family(result, "performance")] == metrics
    assert {f.status for f in family(result, "performance")} <= {"ok", "alert"}
    assert family(result, "estimated_performance") == []
    assert {f.metric for f in family(result, "fairness")} == FAIRNESS_OF[task]
    disparities = [
        f for f in family(result, "fairness") if f.group is None and f.metric != "representation_shift"
    ]
    classes = {f.feature for f in disparities}
    assert classes == ({None} if task == "regression" else set(setup.layout.classes))
    if task == "regression":
        for metric in ("mean_error", "r2", "mape"):  # explicit bounds only (figures_outcomes)
            assert pick(result, "performance", metric).threshold is None
        assert pick(result, "performance", "mae").threshold is not None


def _assert_clean(result: WindowFigures) -> None:
    order = [FAMILIES.index(f.family) for f in result.figures]
    assert order == sorted(order)
    for f in result.figures:
        assert f.status in STATUSES and isinstance(f.n, int) and f.n >= 0
        for number in (f.value, f.ci_low, f.ci_high, f.threshold):
            assert number is None or math.isfinite(number), f
        assert (f.value is None) == (f.status == "insufficient_data"), f


@pytest.mark.slow
@pytest.mark.parametrize("task", ["binary_classification", "multiclass_classification", "regression"])
def test_no_nan_anywhere_even_for_empty_and_tiny_windows(task: Task) -> None:
    setup = _setup(task)
    windows = [
        Profile.empty(setup.layout),
        setup.window(task=task, rows=12, rare=3),
        setup.window(task=task, labelled=0.0, shift={"x0": 2.0}),
        setup.window(task=task, missing=dict.fromkeys(NUMERIC, 1.0), importance=(0.0,) * 5),
    ]
    for window in windows:
        for final in (False, True):
            _assert_clean(setup.evaluate(window, final=final))
    empty = setup.evaluate(windows[0])
    assert (empty.rows, empty.labelled, empty.label_coverage) == (0, 0, None)
    assert empty.figures and {f.status for f in empty.figures} == {"insufficient_data"}


def test_disabled_families_produce_no_figures(binary: Setup) -> None:
    off = MonitorConfig(
        drift=DriftSettings(enabled=False),
        data_quality=QualitySettings(enabled=False),
        performance=PerformanceSettings(enabled=False),
        fairness=FairnessSettings(enabled=False),
        explanation=ExplanationSettings(enabled=False),
    )
    result = binary.evaluate(binary.window(), off)
    assert (result.figures, result.rows, result.labelled) == ((), 2_000, 2_000)
    no_estimate = MonitorConfig(performance=PerformanceSettings(estimated=False))
    assert family(binary.evaluate(binary.window(), no_estimate), "estimated_performance") == []


def test_non_finite_numbers_never_leave_a_figure() -> None:
    raw = Figure("drift", "drift_score", value=math.nan, ci_low=0.0, ci_high=math.inf, threshold=math.nan)
    assert finite(raw) == Figure("drift", "drift_score", status=FigureStatus.INSUFFICIENT_DATA)
    assert finite(Figure("drift", "x", value=1.0, ci_high=-math.inf)) == Figure("drift", "x", value=1.0)


def test_profiles_of_another_layout_are_rejected(binary: Setup) -> None:
    other = _setup("regression")
    with pytest.raises(ValueError, match="different layout"):
        binary.evaluate(other.reference)
