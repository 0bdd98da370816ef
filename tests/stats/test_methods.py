"""The drift-method registry: a method chosen per column kind becomes the effect size, checked
against an independent computation (scipy) on seeded data."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
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
    return [int(c) for c in np.bincount(cells, minlength=inner.size + 1)]


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


def test_hellinger_is_the_chosen_effect_size_and_matches_scipy() -> None:
    reference, window = (
        _seeded(5_000, seed=11, shift=0.0, tilt=0.0),
        _seeded(3_000, seed=12, shift=0.4, tilt=0.15),
    )
    layout = fit_layout(task="regression", reference=reference)
    result = _drift(reference, window, HELLINGER_EVERYWHERE)
    expected_x = _hellinger_scipy(
        _coarse_counts(layout.numeric[0], reference.numeric["x"]),
        _coarse_counts(layout.numeric[0], window.numeric["x"]),
    )
    ref_colours, win_colours = Counter(reference.categorical["colour"]), Counter(window.categorical["colour"])
    names = sorted(ref_colours)
    expected_colour = _hellinger_scipy([ref_colours[c] for c in names], [win_colours[c] for c in names])
    assert result["x"].effect == result["colour"].effect == "hellinger"
    assert result["x"].effect_size == pytest.approx(expected_x, rel=1e-9)
    assert result["colour"].effect_size == pytest.approx(expected_colour, rel=1e-9)
    assert expected_x > 0.1 and result["x"].status == "drift"  # 0.4 std moves the deciles
    assert result["x"].effect_se is None  # no standard error known: the point decides


def test_hellinger_on_the_same_law_stays_below_its_threshold() -> None:
    reference, window = (
        _seeded(5_000, seed=21, shift=0.0, tilt=0.0),
        _seeded(3_000, seed=22, shift=0.0, tilt=0.0),
    )
    result = _drift(reference, window, HELLINGER_EVERYWHERE)
    assert all(f.effect_size is not None and f.effect_size < 0.05 for f in result.values())
    assert {f.status for f in result.values()} == {"ok"}


def test_without_a_choice_the_defaults_are_evidently_s() -> None:
    reference, window = (
        _seeded(2_000, seed=31, shift=0.0, tilt=0.0),
        _seeded(2_000, seed=32, shift=0.2, tilt=0.1),
    )
    result = _drift(reference, window, DriftConfig())
    assert (result["x"].effect, result["colour"].effect) == ("wasserstein_norm", "jensen_shannon")


def test_every_default_is_registered_for_its_kind() -> None:
    assert all(kind in DRIFT_METHODS[name].kinds for kind, name in DEFAULT_METHODS.items())
    assert methods_for("categorical") == ("hellinger", "jensen_shannon")
    assert methods_for("numeric") == ("hellinger", "wasserstein_norm")
