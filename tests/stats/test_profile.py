"""Profiles against independent oracles: numpy histograms and sums, and the aggregates'
own ``from_arrays`` builders applied group by group with boolean masks."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pytest

from service.stats.aggregates import BinaryCounts, MulticlassCounts, RegressionSums, ScoreHistogram
from service.stats.layout import Batch, Layout, fit_layout
from service.stats.outcomes import Outcomes, regression_shift
from service.stats.profile import (
    CategoricalSummary,
    NumericSummary,
    Profile,
    build_profile,
    group_outcomes,
)
from service.stats.serialize import profile_from_bytes, profile_from_dict, profile_to_bytes, profile_to_dict

if TYPE_CHECKING:
    from tests.stats.conftest import CreditData


@pytest.fixture
def data(credit_data: Callable[..., CreditData]) -> tuple[Layout, CreditData, CreditData]:
    reference = credit_data(4_000, seed=21)
    window = credit_data(3_000, seed=22, shift={"income": 2.0, "purpose": 0.5}, labelled_fraction=0.6)
    layout = fit_layout(
        task="binary_classification",
        reference=reference.batch,
        positive_label="default",
        intersections=[("sex", "age_band")],
        attribute_top_k=3,
    )
    return layout, reference, window


def test_numeric_summary_matches_numpy(data: tuple[Layout, CreditData, CreditData]) -> None:
    layout, _, window = data
    profile = build_profile(layout, window.batch)
    for bins in layout.numeric:
        x = window.batch.numeric[bins.name]
        finite = x[np.isfinite(x)]
        edges = np.asarray(bins.edges)
        expected, _ = np.histogram(np.clip(finite, edges[0], edges[-1]), bins=edges)
        summary = profile.numeric[bins.name]
        assert summary.bins == tuple(expected.tolist())
        assert summary.count == finite.size and summary.missing == x.size - finite.size
        assert summary.below == int((finite < edges[0]).sum())
        assert summary.above == int((finite > edges[-1]).sum())
        assert summary.minimum == finite.min() and summary.maximum == finite.max()
        assert summary.mean == pytest.approx(np.mean(finite), rel=1e-12)
        assert summary.variance == pytest.approx(np.var(finite), rel=1e-9)


def test_shifted_income_lands_out_of_range(data: tuple[Layout, CreditData, CreditData]) -> None:
    layout, _, window = data
    summary = build_profile(layout, window.batch).numeric["income"]
    # Shifted by 2 reference std: the top of the window lies above the reference maximum.
    assert summary.above > 0 and summary.below == 0


def test_categorical_summary_matches_counter(data: tuple[Layout, CreditData, CreditData]) -> None:
    layout, reference, window = data
    profile = build_profile(layout, window.batch)
    for vocab in layout.categorical:
        column = list(window.batch.categorical[vocab.name])
        counter = Counter(column)
        summary = profile.categorical[vocab.name]
        assert summary.counts[:-1] == tuple(counter[v] for v in vocab.values)
        seen = set(reference.batch.categorical[vocab.name])
        assert summary.unseen == sum(c for v, c in counter.items() if v is not None and v not in seen)
        other = sum(c for v, c in counter.items() if v is not None and v not in vocab.values)
        assert summary.counts[-1] == other
        assert summary.missing == counter[None] and summary.count + summary.missing == len(column)


def test_unseen_categories_are_counted() -> None:
    batch = Batch(rows=4, categorical={"c": ["a", "a", "b", None]}, predictions=["x"] * 4)
    layout = fit_layout(task="multiclass_classification", reference=batch, top_k=1)
    profile = build_profile(layout, Batch(rows=4, categorical={"c": ["a", "b", "zz", "zz"]}))
    assert profile.categorical["c"] == CategoricalSummary(count=4, missing=0, counts=(1, 3), unseen=2)


def _mask_for(key: tuple[tuple[str, str], ...], layout: Layout, batch: Batch) -> np.ndarray:
    mask = np.ones(batch.rows, dtype=bool)
    for attribute, value in key:
        vocab = next(a for a in layout.attributes if a.name == attribute)
        names = np.asarray(vocab.group_names, dtype=object)
        mask &= names[vocab.group_codes(batch.attributes[attribute])] == value
    return mask


def test_binary_outcomes_per_group_match_from_arrays(data: tuple[Layout, CreditData, CreditData]) -> None:
    layout, _, window = data
    batch = window.batch
    profile = build_profile(layout, batch)
    labels = np.asarray(batch.labels, dtype=object)
    labelled = np.array([v is not None for v in labels])
    actual = np.array([v == "default" for v in labels])
    predicted = np.asarray(batch.predictions, dtype=object) == "default"
    assert batch.scores is not None
    # 1 overall + (3 values + other + missing) for each attribute... only groups that have rows.
    assert len(profile.outcomes) > 1 + 2 + 2
    for key, outcomes in profile.outcomes.items():
        m = _mask_for(key, layout, batch)
        expected = BinaryCounts.from_arrays(
            predicted_positive=predicted[m],
            actual_positive=actual[m],
            labelled=labelled[m],
            scores=batch.scores[m],
        )
        assert outcomes.binary is not None and outcomes.scores is not None
        assert _close(outcomes.binary.to_dict(), expected.to_dict())
        hist = ScoreHistogram.from_arrays(
            layout.score_edges, scores=batch.scores[m], actual_positive=actual[m], labelled=labelled[m]
        )
        assert _close(outcomes.scores.to_dict(), hist.to_dict())
    total = sum(o.rows for k, o in profile.outcomes.items() if len(k) == 1 and k[0][0] == "sex")
    assert total == batch.rows


def test_groups_with_no_rows_are_absent(data: tuple[Layout, CreditData, CreditData]) -> None:
    layout, _, window = data
    profile = build_profile(layout, window.batch)
    assert (("sex", "(missing)"),) not in profile.outcomes  # the generator never leaves sex missing
    assert all(o.rows > 0 for o in profile.outcomes.values())


def test_multiclass_outcomes_match_from_arrays() -> None:
    rng = np.random.default_rng(7)
    classes = ("a", "b", "c")
    n = 2_000
    pred = rng.choice(np.array([*classes, None], dtype=object), size=n, p=[0.3, 0.3, 0.3, 0.1])
    labels = rng.choice(np.array([*classes, None, "zz"], dtype=object), size=n, p=[0.3, 0.2, 0.2, 0.2, 0.1])
    group = rng.choice(np.array(["g1", "g2"], dtype=object), size=n)
    batch = Batch(rows=n, predictions=pred, labels=labels, attributes={"grp": group})
    layout = fit_layout(task="multiclass_classification", reference=batch, classes=classes)
    profile = build_profile(layout, batch)
    index = {c: i for i, c in enumerate(classes)}
    p_idx = np.array([index.get(v, -1) for v in pred])
    a_idx = np.array([index.get(v, -1) for v in labels])
    for key, outcomes in profile.outcomes.items():
        m = _mask_for(key, layout, batch) & (p_idx >= 0)
        expected = MulticlassCounts.from_arrays(classes, predicted=p_idx[m], actual=a_idx[m])
        assert outcomes.multiclass == expected
    assert profile.outcomes[()].rows == int((p_idx >= 0).sum())


def test_regression_outcomes_match_from_arrays() -> None:
    rng = np.random.default_rng(8)
    n = 1_500
    y = rng.normal(10.0, 3.0, n)
    y[rng.random(n) < 0.3] = np.nan
    y[:5] = 0.0  # MAPE skips y = 0
    pred = y + rng.normal(0.0, 1.0, n)
    pred[np.isnan(pred)] = rng.normal(10.0, 3.0, int(np.isnan(pred).sum()))
    pred[10:15] = np.nan
    group = rng.choice(np.array(["u", "v", None], dtype=object), size=n)
    batch = Batch(rows=n, predictions=pred, labels=y, attributes={"grp": group})
    layout = fit_layout(task="regression", reference=batch)
    profile = build_profile(layout, batch)
    for key, outcomes in profile.outcomes.items():
        m = _mask_for(key, layout, batch) & np.isfinite(pred)
        expected = RegressionSums.from_arrays(
            predictions=pred[m], actual=y[m], shift=regression_shift(layout)
        )
        assert outcomes.regression is not None
        assert _close(outcomes.regression.to_dict(), expected.to_dict())
    assert isinstance(profile.prediction, NumericSummary) and profile.prediction.missing == 5


def test_binary_predictions_derived_from_scores_when_absent() -> None:
    scores = np.array([0.1, 0.5, 0.9, np.nan])
    batch = Batch(rows=4, scores=scores, labels=["no", "yes", "yes", "no"])
    layout = fit_layout(task="binary_classification", reference=batch, positive_label="yes")
    overall = build_profile(layout, batch).outcomes[()]
    assert overall.binary == BinaryCounts.from_arrays(
        predicted_positive=np.array([False, True, True]),
        actual_positive=np.array([False, True, True]),
        scores=scores[:3],
    )


def test_attributions_sum_absolute_values() -> None:
    batch = Batch(rows=3, numeric={"x": np.zeros(3)}, attributions={"x": np.array([-1.5, 2.0, np.nan])})
    layout = fit_layout(task="regression", reference=batch)
    summary = build_profile(layout, batch).attributions["x"]
    assert summary.count == 2 and summary.abs_sum == 3.5 and summary.mean_abs == 1.75


def test_missing_columns_count_as_missing(data: tuple[Layout, CreditData, CreditData]) -> None:
    layout, _, _ = data
    profile = build_profile(layout, Batch(rows=5))
    assert all(s.missing == 5 and s.count == 0 for s in profile.numeric.values())
    assert all(s.missing == 5 for s in profile.categorical.values())
    assert profile.outcomes == {(): Outcomes.empty(layout)}


def test_round_trip_dict_and_bytes(data: tuple[Layout, CreditData, CreditData]) -> None:
    layout, _, window = data
    profile = build_profile(layout, window.batch)
    assert profile_from_dict(profile_to_dict(profile)) == profile
    blob = profile_to_bytes(profile)
    assert profile_from_bytes(blob) == profile
    assert profile_from_bytes(profile_to_bytes(Profile.empty(layout))) == Profile.empty(layout)
    # 15 x 100 bins (counts + sums) + 5 vocabularies + ~15 groups: measured ≈ 25-29 kB; the
    # slice counts (stats/slices.py, ≤ 5,300 numbers) add ≈ 3.5 kB.
    assert len(blob) < 45_000


def test_profiles_refuse_to_merge_across_layouts(data: tuple[Layout, CreditData, CreditData]) -> None:
    layout, reference, window = data
    other = fit_layout(task="binary_classification", reference=window.batch, positive_label="default")
    with pytest.raises(ValueError, match="different layouts"):
        build_profile(layout, reference.batch).merge(build_profile(other, window.batch))


def _close(actual: object, expected: object) -> bool:
    """Structural equality; floats to 1e-9 relative (bincount and numpy sum add in different orders)."""
    if isinstance(actual, dict) and isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(_close(actual[k], expected[k]) for k in actual)
    if isinstance(actual, list | tuple) and isinstance(expected, list | tuple):
        pairs = zip(actual, expected, strict=False)
        return len(actual) == len(expected) and all(_close(a, b) for a, b in pairs)
    if isinstance(actual, float) or isinstance(expected, float):
        return math.isclose(float(actual), float(expected), rel_tol=1e-9, abs_tol=1e-9)  # type: ignore[arg-type]
    return actual == expected


def test_group_outcomes_selects_one_grouping(data: tuple[Layout, CreditData, CreditData]) -> None:
    layout, _, window = data
    profile = build_profile(layout, window.batch)
    by_sex = group_outcomes(profile, ("sex",))
    assert set(by_sex) == {("F",), ("M",)}
    assert sum(o.rows for o in by_sex.values()) == profile.outcomes[()].rows
    crossed = group_outcomes(profile, ("sex", "age_band"))
    assert all(len(key) == 2 for key in crossed) and len(crossed) > 2
    assert sum(o.rows for o in crossed.values()) == window.batch.rows
    assert group_outcomes(profile, ()) == {(): profile.outcomes[()]}
