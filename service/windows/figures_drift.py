"""The drift family of ``figures``: drift_score and p_value of every tested column.

The rule is in the docstring of ``service.windows.figures`` (rule 1); the statistics in
``service.stats.verdict``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from service.monitors.schemas import MonitorConfig
from service.stats.layout import Layout
from service.stats.profile import Profile
from service.stats.verdict import DriftConfig, FeatureDrift, evaluate_drift
from service.windows.figures_base import ALERT, DRIFT, INSUFFICIENT, OK, WATCH, Figure


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


def _drift_status(result: FeatureDrift) -> str:
    """alert on the drift verdict (q < α and effect ≥ threshold); watch when the effect size is
    past its threshold without significance (a large shift the window's rows cannot confirm)."""
    if result.status == "drift":
        return ALERT
    if result.status == "insufficient_data":
        return INSUFFICIENT
    large = result.effect_size is not None and result.effect_size >= result.threshold
    return WATCH if large else OK


def _drift_pair(result: FeatureDrift) -> list[Figure]:
    """drift_score (effect size vs its threshold) and p_value (q-value vs α), one status."""
    status = _drift_status(result)
    pairs = (("drift_score", result.effect_size, result.threshold), ("p_value", result.q_value, result.alpha))
    return [
        Figure(
            DRIFT,
            metric,
            feature=result.feature,
            value=value,
            n=result.n_window,
            threshold=limit,
            status=status,
        )
        for metric, value, limit in pairs
    ]


def drift_figures(layout: Layout, reference: Profile, window: Profile, config: MonitorConfig) -> list[Figure]:
    """drift_score and p_value of every tested column (rule 1 of the module docstring)."""
    settings = config.drift
    drift_config = DriftConfig(
        alpha=settings.alpha,
        numeric_effect_threshold=settings.numeric_threshold,
        categorical_effect_threshold=settings.categorical_threshold,
        min_window_rows=config.min_rows,
        min_reference_rows=config.min_rows,
        outputs=settings.outputs,
    )
    if settings.features is not None:
        # Evaluate on the projection rather than filter a full evaluation afterwards: BH's
        # q-values depend on the whole family, and the family must be what is reported.
        layout, reference, window = _restricted(layout, (reference, window), settings.features)
    report = evaluate_drift(layout=layout, reference=reference, window=window, config=drift_config)
    return [figure for result in report.features for figure in _drift_pair(result)]
