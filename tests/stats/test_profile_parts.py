"""``build_profiles`` (every part of a batch at once) against ``build_profile`` of each part
alone: equal field by field, floats bit for bit, and the same bytes once serialised."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from service.stats.layout import Batch, Layout, Task, fit_layout
from service.stats.profile import Profile, build_profile, build_profiles
from service.stats.serialize import profile_to_bytes

if TYPE_CHECKING:
    from tests.stats.conftest import CreditData

CLASSES = np.array(["pos", "neg", "mid"], dtype=object)
# Values the reference never shows (unseen), missing ones, and numbers a profile must count
# as missing (NaN, ±inf, beyond 1e50).
CATEGORIES = np.array(["a", "b", "c", "d", "never-seen", None], dtype=object)
SEXES = np.array(["F", "M", "X", "unseen-sex", None], dtype=object)
BANDS = np.array(["1", "2", "3", None], dtype=object)
SPECIAL = np.array([np.nan, np.inf, -np.inf, 1e60, -1e3, 1e3, 0.0])


def _reference(task: str, rng: np.random.Generator, n: int = 600) -> Batch:
    outputs = CLASSES[:2] if task == "binary_classification" else CLASSES
    regression = task == "regression"
    return Batch(
        rows=n,
        numeric={"x": rng.normal(50.0, 100.0, n), "k": rng.integers(0, 4, n).astype(np.float64)},
        categorical={"c": rng.choice(CATEGORIES[:3], n)},
        predictions=rng.normal(size=n) if regression else rng.choice(outputs, n),
        scores=rng.random(n) if task == "binary_classification" else None,
        labels=rng.normal(size=n) if regression else rng.choice(outputs, n),
        attributes={"sex": rng.choice(SEXES[:3], n), "band": rng.choice(BANDS[:3], n)},
    )


def _spiked(rng: np.random.Generator, values: np.ndarray[Any, Any], share: float) -> Any:
    out = values.copy()
    where = rng.random(out.size) < share
    out[where] = rng.choice(SPECIAL, int(where.sum()))
    return out


def _window(task: str, rng: np.random.Generator, n: int, *, score_only: bool = False) -> Batch:
    outputs = CLASSES[:2] if task == "binary_classification" else CLASSES
    regression = task == "regression"
    labels: Any = rng.normal(size=n) if regression else rng.choice(outputs, n)
    unlabelled = rng.random(n) < 0.4
    if regression:
        labels[unlabelled] = np.nan
    else:
        labels[unlabelled] = None
    predictions: Any = _spiked(rng, rng.normal(size=n), 0.05) if regression else rng.choice(outputs, n)
    if not regression:
        predictions[rng.random(n) < 0.03] = None
    scores = None
    if task == "binary_classification":
        scores = rng.random(n)
        scores[rng.random(n) < 0.05] = np.nan
    attributions = rng.normal(size=n)
    attributions[rng.random(n) < 0.5] = np.nan
    return Batch(
        rows=n,
        numeric={
            "x": _spiked(rng, rng.normal(60.0, 120.0, n), 0.05),
            # Discrete in the reference (0..3); -1, 5 and 2.5 fall off its grid.
            "k": _spiked(rng, rng.choice(np.array([-1.0, 0.0, 1.0, 2.0, 2.5, 3.0, 5.0]), n), 0.02),
        },
        categorical={"c": rng.choice(CATEGORIES, n)},
        predictions=None if score_only else predictions,
        scores=scores,
        labels=labels,
        attributes={"sex": rng.choice(SEXES, n), "band": rng.choice(BANDS, n)},
        attributions={"x": _spiked(rng, attributions, 0.02), "k": np.full(n, np.nan)},
    )


def _layout(task: Task, rng: np.random.Generator) -> Layout:
    return fit_layout(
        task=task,
        reference=_reference(task, rng),
        positive_label=None if task == "regression" else "pos",
        intersections=[("sex", "band")],
        attribute_top_k=2,
        bins=20,
        coarse_bins=5,
    )


def _bounds(rng: np.random.Generator, rows: int, parts: int) -> list[int]:
    """Part bounds with empty parts, one-row parts and uneven sizes."""
    cuts = sorted(rng.integers(0, rows + 1, parts - 1).tolist())
    return [0, 0, 1, *cuts, rows, rows]


def _assert_same(layout: Layout, batch: Batch, bounds: list[int]) -> list[Profile]:
    together = build_profiles(layout, batch, bounds)
    assert len(together) == len(bounds) - 1
    for (start, stop), profile in zip(pairwise(bounds), together, strict=True):
        alone = build_profile(layout, batch.slice(start, stop))
        assert profile == alone, (start, stop)
        assert list(profile.outcomes) == list(alone.outcomes)  # same group order
        assert profile_to_bytes(profile) == profile_to_bytes(alone)
    return together


@pytest.mark.parametrize("task", ["binary_classification", "multiclass_classification", "regression"])
@pytest.mark.parametrize("seed", [1, 2])
def test_parts_equal_profiles_built_alone(task: Task, seed: int) -> None:
    rng = np.random.default_rng(seed)
    layout = _layout(task, rng)
    batch = _window(task, rng, 2_500)
    profiles = _assert_same(layout, batch, _bounds(rng, batch.rows, 12))
    # The data exercises what it claims to: unseen values, missing numbers, empty parts.
    assert sum(p.categorical["c"].unseen for p in profiles) > 0
    assert sum(p.numeric["x"].missing for p in profiles) > 0
    assert profiles[0].rows == 0 and profiles[-1].rows == 0
    assert any("x" in p.attributions for p in profiles) and not any("k" in p.attributions for p in profiles)


def test_score_only_binary_parts() -> None:
    rng = np.random.default_rng(3)
    layout = _layout("binary_classification", rng)
    batch = _window("binary_classification", rng, 1_200, score_only=True)
    _assert_same(layout, batch, _bounds(rng, batch.rows, 6))


def test_credit_data_parts(credit_data: Callable[..., CreditData]) -> None:
    """The 20-feature credit data of the other profile tests, in 30 buckets of ~100 rows."""
    reference = credit_data(4_000, seed=31)
    window = credit_data(3_000, seed=32, shift={"income": 2.0, "purpose": 0.5}, labelled_fraction=0.6)
    layout = fit_layout(
        task="binary_classification",
        reference=reference.batch,
        positive_label="default",
        intersections=[("sex", "age_band")],
        attribute_top_k=3,
    )
    profiles = _assert_same(layout, window.batch, list(range(0, 3_001, 100)))
    assert all(p.multivariate is not None and p.multivariate.count for p in profiles)


def test_bounds_must_start_at_zero_and_grow() -> None:
    rng = np.random.default_rng(4)
    layout = _layout("regression", rng)
    batch = _window("regression", rng, 10)
    with pytest.raises(ValueError, match="bounds"):
        build_profiles(layout, batch, [1, 10])
    with pytest.raises(ValueError, match="bounds"):
        build_profiles(layout, batch, [0, 6, 4, 10])
