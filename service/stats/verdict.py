"""Method choice and the drift decision; ``evaluate_drift`` is the one entry point.

Rule (the same at every n): a column has *drifted* when its test is significant after
Benjamini-Hochberg control across every column of the evaluation (q < ``alpha``) **and**
its effect size reaches the threshold (Wasserstein / reference std ≥ 0.1 for numeric
columns, Jensen-Shannon distance ≥ 0.1 for categorical ones, Evidently's defaults). A
p-value alone flags negligible shifts once n is large (at 100k rows KS rejects a 0.02 std
mean shift); an effect size alone flags noise when n is small (at 50 rows the normed
Wasserstein between two draws of one law is ≈ 0.2). A column with fewer than
``min_window_rows`` (or ``min_reference_rows``) values is ``insufficient_data``: no
figure is reported for it.

Tests and default effect sizes per column kind (the effect size is the drift method
``DriftConfig.methods`` chooses per kind from ``methods.DRIFT_METHODS``):

- continuous numeric: KS, normed Wasserstein;
- discrete numeric (``NumericBins.discrete``: ≤ 100 distinct reference values): chi-square
  contingency over the value cells (``discrete.py``), normed Wasserstein — exact from the
  value masses; a column constant in the reference has std 0, so its effect is W / 0.001
  (Evidently's floor) and any real change of value is a large effect;
- categorical: two-sample chi-square contingency, Jensen-Shannon distance.

The headline ``method`` follows Evidently's switch: for windows of at most
``small_sample_rows`` (1,000) values it is the test (``ks`` / ``chi2``), above it the effect
size (``wasserstein_norm`` / ``jensen_shannon``). Evidently switches on the reference size;
we switch on the window's, whose sampling noise is what the headline must convey. When the
raw rows of a small window (and of the reference) are given, numeric statistics are exact.

Multivariate drift (``DriftConfig.multivariate`` and a layout with a multivariate model):
the rows' reconstruction error (``multivariate.py``) is one more numeric column, named
``multivariate_reconstruction_error`` with role ``multivariate``, judged by the same rule —
KS (chi-square when its bins are discrete) in the same BH family, the numeric drift method
as effect size (by default W1 between the window's and the reference's error distributions /
the reference error's std) against the numeric threshold. Always from the binned profiles.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from service.stats.discrete import discrete_statistics
from service.stats.drift import DriftStatistics, categorical_statistics, numeric_statistics
from service.stats.drift_error import js_se
from service.stats.exact import categorical_statistics_exact, numeric_statistics_exact
from service.stats.fdr import benjamini_hochberg
from service.stats.layout import Batch, FloatArray, Labels, Layout, NumericBins, Vocabulary
from service.stats.methods import DEFAULT_METHODS, DRIFT_METHODS, ColumnKind, DriftMethod
from service.stats.multivariate import NAME as MULTIVARIATE
from service.stats.profile import CategoricalSummary, NumericSummary, Profile
from service.stats.quality import FeatureQuality, evaluate_quality

Status = Literal["ok", "drift", "insufficient_data"]
ColumnRole = Literal["feature", "prediction", "score", "multivariate"]


@dataclass(frozen=True, slots=True)
class DriftConfig:
    """Thresholds of the drift decision (defaults modelled on Evidently 0.7); ``methods``:
    the effect size of each column kind, a name in ``methods.DRIFT_METHODS``."""

    alpha: float = 0.05
    numeric_effect_threshold: float = 0.1
    categorical_effect_threshold: float = 0.1
    small_sample_rows: int = 1_000
    min_window_rows: int = 30
    min_reference_rows: int = 30
    fdr: bool = True
    outputs: bool = True
    quality_min_rows: int = 1
    multivariate: bool = True
    methods: Mapping[ColumnKind, str] = field(default_factory=lambda: dict(DEFAULT_METHODS))


@dataclass(frozen=True, slots=True)
class FeatureDrift:
    """The drift verdict of one column in one window.

    ``statistic`` is the value of the headline ``method``; ``p_value`` is the raw p-value of
    ``test`` and ``q_value`` its BH-adjusted value (equal to p when FDR control is off);
    ``effect_size`` is the value of ``effect`` compared with ``threshold``. ``n_reference``
    / ``n_window`` count non-missing values. ``reason`` says why the status was chosen:
    ``drift``, ``not_significant``, ``small_effect``, ``below_min_n``, or ``lost_sums`` (a
    profile stored before values were capped at 1e50 lost its sums: the effect size is
    unknown, the status ``insufficient_data``). ``statistics`` holds every statistic
    computed (None when below the minimum n). ``discrete`` marks a discrete numeric column
    (test ``chi2``, effect ``wasserstein_norm``). ``effect_se`` is the standard error of
    ``effect_size`` in its units (``DriftStatistics.effect_se``; None when insufficient or
    not computable): the decision layer asks effect_size − z·effect_se ≥ threshold.
    """

    feature: str
    role: ColumnRole
    kind: Literal["numeric", "categorical"]
    method: str
    statistic: float | None
    test: str
    p_value: float | None
    q_value: float | None
    alpha: float
    effect: str
    effect_size: float | None
    threshold: float
    n_reference: int
    n_window: int
    exact: bool
    status: Status
    reason: str
    statistics: DriftStatistics | None
    discrete: bool = False
    effect_se: float | None = None


@dataclass(frozen=True, slots=True)
class DriftReport:
    """Every column's drift verdict (BH applied across them) and data quality."""

    layout_hash: str
    reference_rows: int
    window_rows: int
    fdr: bool
    features: tuple[FeatureDrift, ...]
    quality: tuple[FeatureQuality, ...]

    @property
    def drifted(self) -> tuple[str, ...]:
        return tuple(f.feature for f in self.features if f.status == "drift")


_Summary = NumericSummary | CategoricalSummary
_Column = tuple[str, ColumnRole, NumericBins | Vocabulary, _Summary | None, _Summary | None]


def _columns(layout: Layout, reference: Profile, window: Profile, config: DriftConfig) -> list[_Column]:
    cols: list[_Column] = [
        (c.name, "feature", c, reference.numeric[c.name], window.numeric[c.name]) for c in layout.numeric
    ]
    cols += [
        (c.name, "feature", c, reference.categorical[c.name], window.categorical[c.name])
        for c in layout.categorical
    ]
    if config.outputs and layout.prediction is not None:
        cols.append(("prediction", "prediction", layout.prediction, reference.prediction, window.prediction))
    if config.outputs and layout.score is not None:
        cols.append(("score", "score", layout.score, reference.score, window.score))
    model = layout.multivariate
    if config.multivariate and model is not None:
        cols.append((MULTIVARIATE, "multivariate", model.bins, reference.multivariate, window.multivariate))
    return cols


def _raw(sample: Batch | None, name: str, role: ColumnRole) -> FloatArray | Labels | None:
    if sample is None or role == "multivariate":
        return None
    if role == "prediction":
        return sample.predictions
    if role == "score":
        return sample.scores
    return sample.numeric.get(name, sample.categorical.get(name))


def _statistics(
    spec: NumericBins | Vocabulary, ref: _Summary, win: _Summary, raw_ref: object, raw_win: object
) -> tuple[DriftStatistics, bool]:
    """The column's statistics; on the exact path (raw rows) ``effect_se`` comes from the
    profiles of the same rows (their bins and counts; the binned and exact effects differ by
    at most ``wasserstein_error``, and categories by the pooling of the top-K vocabulary)."""
    exact = raw_ref is not None and raw_win is not None
    if isinstance(spec, NumericBins) and isinstance(ref, NumericSummary) and isinstance(win, NumericSummary):
        binned = discrete_statistics(spec, ref, win) if spec.discrete else numeric_statistics(spec, ref, win)
        if exact:
            raw = numeric_statistics_exact(spec, raw_ref, raw_win)  # type: ignore[arg-type]
            return replace(raw, effect_se=binned.effect_se), True
        return binned, False
    if isinstance(ref, CategoricalSummary) and isinstance(win, CategoricalSummary):
        if exact:
            raw = categorical_statistics_exact(raw_ref, raw_win)  # type: ignore[arg-type]
            return replace(raw, effect_se=js_se(ref.counts, win.counts)), True
        return categorical_statistics(ref, win), False
    raise TypeError("profile summary does not match the layout column")


def _count(summary: _Summary | None) -> int:
    return 0 if summary is None else summary.count


# The test whose p-value enters BH, per column kind; the effect size is the chosen method.
_TEST = {"numeric": "ks", "discrete": "chi2", "categorical": "chi2"}


def _kind(spec: NumericBins | Vocabulary) -> ColumnKind:
    if isinstance(spec, NumericBins):
        return "discrete" if spec.discrete else "numeric"
    return "categorical"


def _figures(
    stats: DriftStatistics | None, effect: DriftMethod, test: str, method: str
) -> tuple[float | None, float | None, float | None]:
    """(p-value of the test, effect size, headline statistic); all None when the effect size
    is (its sums were lost: no decision, so out of the BH family too)."""
    if stats is None:
        return None, None, None
    size = effect.statistic(stats)
    if size is None:
        return None, None, None
    p = stats.ks_p_value if test == "ks" else stats.chi2_p_value
    return p, size, {"ks": stats.ks, "chi2": stats.chi2}.get(method, size)


def _judge(
    name: str,
    role: ColumnRole,
    stats: DriftStatistics | None,
    n: tuple[int, int],
    exact: bool,
    spec: NumericBins | Vocabulary,
    config: DriftConfig,
) -> FeatureDrift:
    """Verdict before FDR (``q_value`` = ``p_value`` here; ``evaluate_drift`` adjusts it)."""
    kind = _kind(spec)
    test, effect = _TEST[kind], DRIFT_METHODS[config.methods[kind]]
    method = test if n[1] <= config.small_sample_rows else effect.name
    p, size, statistic = _figures(stats, effect, test, method)
    lost = stats is not None and size is None
    return FeatureDrift(
        feature=name,
        role=role,
        kind="categorical" if kind == "categorical" else "numeric",
        method=method,
        statistic=statistic,
        test=test,
        p_value=p,
        q_value=p,
        alpha=config.alpha,
        effect=effect.name,
        effect_size=size,
        threshold=config.categorical_effect_threshold
        if kind == "categorical"
        else config.numeric_effect_threshold,
        n_reference=n[0],
        n_window=n[1],
        exact=exact,
        status="ok" if stats is not None and not lost else "insufficient_data",
        reason="lost_sums" if lost else "" if stats is not None else "below_min_n",
        statistics=stats,
        discrete=kind == "discrete",
        effect_se=None if stats is None or lost else effect.standard_error(stats),
    )


def _decide(result: FeatureDrift, q: float | None) -> FeatureDrift:
    if result.status == "insufficient_data":
        return result
    significant = q is not None and q < result.alpha
    method = DRIFT_METHODS[result.effect]
    large = result.effect_size is not None and method.reaches(result.effect_size, result.threshold)
    status: Status = "drift" if significant and large else "ok"
    reason = "drift" if status == "drift" else ("not_significant" if not significant else "small_effect")
    return replace(result, q_value=q, status=status, reason=reason)


def evaluate_drift(
    *,
    layout: Layout,
    reference: Profile,
    window: Profile,
    config: DriftConfig | None = None,
    reference_sample: Batch | None = None,
    window_sample: Batch | None = None,
) -> DriftReport:
    """Drift of every feature (and the model outputs) plus data quality, O(features × bins).

    ``reference_sample`` / ``window_sample``: the raw rows, optional; when both are given
    and the window has at most ``small_sample_rows`` rows, statistics are exact.
    """
    config = config or DriftConfig()
    if reference.layout_hash != layout.content_hash or window.layout_hash != layout.content_hash:
        raise ValueError("profiles were built on a different layout")
    small = window.rows <= config.small_sample_rows
    use_raw = window_sample is not None and reference_sample is not None and small
    results: list[FeatureDrift] = []
    for name, role, spec, ref, win in _columns(layout, reference, window, config):
        n_ref, n_win = _count(ref), _count(win)
        enough = n_ref >= config.min_reference_rows and n_win >= config.min_window_rows
        stats, exact = None, False
        if enough and ref is not None and win is not None:
            raw_ref = _raw(reference_sample, name, role) if use_raw else None
            raw_win = _raw(window_sample, name, role) if use_raw else None
            stats, exact = _statistics(spec, ref, win, raw_ref, raw_win)
        results.append(_judge(name, role, stats, (n_ref, n_win), exact, spec, config))
    p_values = [r.p_value for r in results]
    q_values = benjamini_hochberg(p_values) if config.fdr else p_values
    return DriftReport(
        layout_hash=layout.content_hash,
        reference_rows=reference.rows,
        window_rows=window.rows,
        fdr=config.fdr,
        features=tuple(_decide(r, q) for r, q in zip(results, q_values, strict=True)),
        quality=evaluate_quality(
            layout=layout, reference=reference, window=window, min_rows=config.quality_min_rows
        ),
    )
