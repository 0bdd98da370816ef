"""The drift family of ``figures``: drift_score and p_value of every tested column.

The statistics are ``service.stats.verdict``'s: BH-adjusted q-values of the tests and the
effect sizes with their standard error ``effect_se`` (``service.stats.drift_error``, which
folds in a bound on the effect's upward bias from noise). The decision, with ``decision:
interval``: "alert" when q < α **and** the effect's lower limit effect − z·se reaches the
threshold, z = Φ⁻¹(1 − (1 − level)/2) at the family's level over the window's tested columns
(``Decider.level``); "watch" when the point effect reaches the threshold without that (or
without significance); with ``decision: point``, q < α and the point effect (the rule before
decisions on intervals). drift_score carries the interval [max(0, effect − z·se),
effect + z·se]; p_value shares its status.

The rows' PCA reconstruction error (``service.stats.multivariate``) is judged as one more
numeric column of the same family (same test, BH family, effect size, threshold and z); its
pair is named ``multivariate_reconstruction_error`` (the effect size with its interval) and
``multivariate_p_value`` (its q-value), with no feature. Off with ``drift.multivariate:
false``; absent when the layout has no multivariate model (fewer than two usable numeric
features); with ``drift.features`` the model still covers every numeric feature it was
fitted on.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

from service.kernel.states import FigureStatus
from service.monitors.schemas import DecisionMode
from service.stats.intervals import z_value
from service.stats.layout import Layout
from service.stats.multivariate import NAME as MULTIVARIATE
from service.stats.profile import Profile
from service.stats.verdict import DriftConfig, FeatureDrift, evaluate_drift
from service.windows.figures_base import DRIFT, Decider, Figure
from service.windows.policy import EvaluationPolicy


def _restricted(
    layout: Layout, profiles: tuple[Profile, Profile], features: Collection[str]
) -> tuple[Layout, Profile, Profile]:
    """Layout and profiles projected on ``features`` (outputs and attributes kept)."""
    keep = set(features)
    sub = replace(
        layout,
        numeric=tuple(c for c in layout.numeric if c.name in keep),
        categorical=tuple(c for c in layout.categorical if c.name in keep),
    )
    reference, window = (
        replace(
            p,
            layout_hash=sub.content_hash,
            numeric={k: v for k, v in p.numeric.items() if k in keep},
            categorical={k: v for k, v in p.categorical.items() if k in keep},
        )
        for p in profiles
    )
    return sub, reference, window


@dataclass(frozen=True, slots=True)
class _Effect:
    """The effect size's interval at the family's level: effect ∓ z·se (no se: none)."""

    low: float | None
    high: float | None


def _interval(result: FeatureDrift, z: float) -> _Effect:
    if result.effect_size is None or result.effect_se is None:
        return _Effect(None, None)
    half = z * result.effect_se
    return _Effect(max(0.0, result.effect_size - half), result.effect_size + half)


def _drift_status(result: FeatureDrift, effect: _Effect, decider: Decider) -> FigureStatus:
    """alert when q < α and the effect reaches its threshold on evidence (its lower limit; on
    the point when no standard error exists); watch when the point effect reaches it without
    that evidence (a large shift the window's rows cannot confirm)."""
    if result.status == "insufficient_data":
        return FigureStatus.INSUFFICIENT_DATA
    large = result.effect_size is not None and result.effect_size >= result.threshold
    if result.status != "drift":
        return FigureStatus.WATCH if large else FigureStatus.OK
    if decider.mode is DecisionMode.POINT or effect.low is None:
        return FigureStatus.ALERT
    return FigureStatus.ALERT if effect.low >= result.threshold else FigureStatus.WATCH


# The metric names of a column's pair: (effect size, q-value); a feature names the column
# unless it is the multivariate one.
_UNIVARIATE = ("drift_score", "p_value")
_MULTIVARIATE = (MULTIVARIATE, "multivariate_p_value")


def _drift_pair(result: FeatureDrift, decider: Decider, z: float) -> list[Figure]:
    """drift_score (effect size vs its threshold, with its interval) and p_value (q-value vs
    α), one status."""
    effect = _interval(result, z)
    status = _drift_status(result, effect, decider)
    multivariate = result.role == "multivariate"
    names = _MULTIVARIATE if multivariate else _UNIVARIATE
    feature = None if multivariate else result.feature
    score = Figure(
        DRIFT,
        names[0],
        feature=feature,
        value=result.effect_size,
        ci_low=effect.low,
        ci_high=effect.high,
        n=result.n_window,
        threshold=result.threshold,
        status=status,
    )
    q_value = Figure(
        DRIFT,
        names[1],
        feature=feature,
        value=result.q_value,
        n=result.n_window,
        threshold=result.alpha,
        status=status,
    )
    return [score, q_value]


def drift_figures(
    layout: Layout, reference: Profile, window: Profile, policy: EvaluationPolicy, decider: Decider
) -> list[Figure]:
    """drift_score and p_value of every tested column (rule 1 of the module docstring); the
    effect intervals are simultaneous over the tested columns (``Decider.level``)."""
    settings = policy.drift
    drift_config = DriftConfig(
        alpha=settings.alpha,
        numeric_effect_threshold=settings.thresholds["numeric"],
        categorical_effect_threshold=settings.thresholds["categorical"],
        min_window_rows=policy.min_rows,
        min_reference_rows=policy.min_rows,
        outputs=settings.outputs,
        multivariate=settings.multivariate,
        methods=settings.methods,
    )
    if settings.features is not None:
        # Evaluate on the projection rather than filter a full evaluation afterwards: BH's
        # q-values depend on the whole family, and the family must be what is reported.
        layout, reference, window = _restricted(layout, (reference, window), settings.features)
    report = evaluate_drift(layout=layout, reference=reference, window=window, config=drift_config)
    z = z_value(decider.level(len(report.features)))
    return [figure for result in report.features for figure in _drift_pair(result, decider, z)]
