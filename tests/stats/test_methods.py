"""The drift-method registry: a method chosen per column kind becomes the effect size, checked
against an independent computation (scipy) on seeded data."""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import distance

from service.stats.layout import Batch, NumericBins, fit_layout
from service.stats.methods import ALL_KINDS, DEFAULT_METHODS, DRIFT_METHODS, methods_for
from service.stats.profile import build_profile
from service.stats.verdict import DriftConfig, FeatureDrift, evaluate_drift

HELLINGER_EVERYWHERE = DriftConfig(methods=dict.fromkeys(ALL_KINDS, "hellinger"))


def _hellinger_scipy(reference: list[int], window: list[int]) -> float:
    """H = ‖√p − √q‖₂ / √2, the Euclidean form (not the 1 − Σ√(pq) one the service uses)."""
    p, q = np.asarray(reference, float) / sum(reference), np.asarray(window, float) / sum(window)
    return float(distance.euclidean(np.sqrt(p), np.sqrt(q)) / math.sqrt(2.0))


def _coarse_counts(bins: NumericBins, values: np.ndarray) -> list[int]:
    """Counts in the layout's deciles, out-of-range values in the edge bins."""
    inner = np.asarray(bins.edges)[list(bins.coarse)][1:-1]
    cells = np.searchsorted(inner, values, side="right")
    return np.bincount(cells, minlength=inner.size + 1).tolist()


def _drift(reference: Batch, window: Batch, config: DriftConfig) -> dict[str, FeatureDrift]:
    layout = fit_layout(task="regression", reference=reference)
    report = evaluate_drift(
        layout=layout,
        reference=build_profile(layout, reference),
        window=build_profile(layout, window),
        config=config,
    )
    return {f.feature: f for f in report.features}


def _seeded(rows: int, seed: int, shift: float, tilt: float) -> Batch:
    rng = np.random.default_rng(seed)
    colours = rng.choice(["red", "green", "blue"], size=rows, p=[0.5 - tilt, 0.3, 0.2 + tilt])
    return Batch(rows=rows, numeric={"x": rng.normal(shift, 1.0, rows)}, categorical={"colour": colours})


def test_without_a_choice_the_defaults_are_evidently_s() -> None:
    reference, window = (
        _seeded(2_000, seed=31, shift=0.0, tilt=0.0),
        _seeded(2_000, seed=32, shift=0.2, tilt=0.1),
    )
    result = _drift(reference, window, DriftConfig())
    assert (result["x"].effect, result["colour"].effect) == ("wasserstein_norm", "jensen_shannon")


def test_every_default_is_registered_for_its_kind() -> None:
    assert all(kind in DRIFT_METHODS[name].kinds for kind, name in DEFAULT_METHODS.items())
    assert methods_for("categorical") == ("jensen_shannon",)
    assert methods_for("numeric") == ("wasserstein_norm",)
