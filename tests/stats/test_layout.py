"""The reference layout: quantile bins, vocabularies, score edges, JSON and content hash."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pytest

from service.stats.layout import (
    MISSING,
    OTHER,
    Batch,
    Layout,
    NumericBins,
    Vocabulary,
    fit_layout,
    fit_numeric,
    fit_vocabulary,
    score_edges,
)

if TYPE_CHECKING:
    from tests.stats.conftest import CreditData


@pytest.fixture
def reference(credit_data: Callable[..., CreditData]) -> CreditData:
    return credit_data(5_000, seed=11)


def _layout(data: CreditData) -> Layout:
    return fit_layout(
        task="binary_classification",
        reference=data.batch,
        positive_label="default",
        intersections=[("sex", "age_band")],
    )


def test_quantile_bins_hold_equal_reference_mass() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=10_000)
    bins = fit_numeric("x", x, bins=100, coarse_bins=10)
    counts, _ = np.histogram(x, bins=np.asarray(bins.edges))  # numpy's last bin is closed, like ours
    assert counts.sum() == x.size
    # Quantile edges: each of 100 bins holds 100 values; linear interpolation between order
    # statistics can move one value across an edge, so ±1.
    assert np.all(np.abs(counts - 100) <= 1)
    assert bins.edges[0] == x.min() and bins.edges[-1] == x.max()
    assert bins.center == pytest.approx(np.median(x))


def test_coarse_edges_are_deciles_and_a_subset_of_fine_edges() -> None:
    rng = np.random.default_rng(4)
    x = rng.gamma(2.0, size=5_000)
    bins = fit_numeric("x", x, bins=100, coarse_bins=10)
    coarse = np.asarray(bins.edges)[list(bins.coarse)]
    np.testing.assert_allclose(coarse, np.quantile(x, np.linspace(0, 1, 11)), rtol=1e-12)
    assert len(bins.coarse) == 11


def test_ties_collapse_duplicate_edges() -> None:
    """A continuous column with a point mass (half the values at 0): quantile edges, deduplicated."""
    rng = np.random.default_rng(12)
    x = np.concatenate([np.zeros(500), rng.normal(size=500)])
    bins = fit_numeric("x", x)
    assert not bins.discrete
    assert bins.edges == tuple(sorted(set(bins.edges))) and 0.0 in bins.edges
    assert len(bins.edges) < 101  # the edges inside the point mass collapsed into one
    assert bins.coarse[0] == 0 and bins.coarse[-1] == len(bins.edges) - 1


def test_constant_column_is_one_discrete_value_and_empty_column_one_bin() -> None:
    constant = fit_numeric("c", np.full(10, 7.0))
    assert constant.discrete and constant.edges == (7.0,) and constant.bins == 3  # below, 7, above
    assert constant.index(np.array([6.0, 7.0, 8.0])).tolist() == [0, 1, 2]
    empty = fit_numeric("e", np.array([np.nan, np.inf, 1e60]))
    assert empty.bins == 1 and empty.edges == (0.0, 0.0) and not empty.discrete


def test_index_sends_out_of_range_values_to_edge_bins() -> None:
    bins = NumericBins("x", (0.0, 1.0, 2.0, 3.0), (0, 3), 1.5)
    idx = bins.index(np.array([-5.0, 0.0, 0.999, 1.0, 2.5, 3.0, 99.0]))
    assert idx.tolist() == [0, 0, 0, 1, 2, 2, 2]


def test_vocabulary_keeps_top_k_by_frequency_then_name() -> None:
    column = ["b"] * 5 + ["a"] * 5 + ["c"] * 3 + ["d"] * 1 + [None] * 4
    vocab = fit_vocabulary("v", column, top_k=2)
    assert vocab.values == ("a", "b")  # tie at 5 broken by name
    assert vocab.known == ("c", "d")
    codes = vocab.codes(["a", "b", "c", "zzz", None])
    assert codes.tolist() == [0, 1, vocab.other, vocab.unseen, vocab.missing]
    assert vocab.group_codes(["c", "zzz", None]).tolist() == [2, 2, 3]
    assert vocab.group_names == ("a", "b", OTHER, MISSING)


def test_vocabulary_matches_counter_on_seeded_data(reference: CreditData) -> None:
    column = list(reference.batch.categorical["region"])
    vocab = fit_vocabulary("region", column, top_k=4, max_known=3)
    ranked = sorted(Counter(v for v in column if v is not None).items(), key=lambda kv: (-kv[1], kv[0]))
    assert list(vocab.values) == [name for name, _ in ranked[:4]]
    assert len(vocab.known) == 3 and not vocab.known_complete


def test_score_edges_include_the_threshold() -> None:
    edges = score_edges(bins=20, threshold=0.37)
    assert edges[0] == 0.0 and edges[-1] == 1.0 and 0.37 in edges
    assert len(edges) == 22 and list(edges) == sorted(edges)
    assert 0.5 in score_edges()
    with pytest.raises(ValueError, match="strictly between"):
        score_edges(threshold=1.0)


def test_fit_layout_on_credit_data(reference: CreditData) -> None:
    layout = _layout(reference)
    assert layout.feature_names == reference.numeric_names + reference.categorical_names
    assert layout.classes == ("default", "repaid")
    assert isinstance(layout.prediction, Vocabulary) and layout.prediction.values == layout.classes
    assert layout.score is not None and layout.score.edges[0] == pytest.approx(reference.scores.min())
    assert [a.name for a in layout.attributes] == ["sex", "age_band"]
    assert set(layout.attributes[0].values) == {"F", "M"}


def test_json_round_trip_and_stable_hash(reference: CreditData) -> None:
    layout = _layout(reference)
    text = layout.to_json()
    again = Layout.from_json(text)
    assert again == layout
    assert again.content_hash == layout.content_hash
    assert json.loads(text) == layout.to_dict()
    assert ", " not in text and ": " not in text  # canonical separators
    refit = _layout(reference)  # fitting is deterministic
    assert refit.content_hash == layout.content_hash


def test_hash_changes_with_any_field(reference: CreditData) -> None:
    layout = _layout(reference)
    variants = [
        dataclasses.replace(layout, threshold=0.55, score_edges=score_edges(threshold=0.55)),
        dataclasses.replace(layout, intersections=()),
        dataclasses.replace(layout, numeric=layout.numeric[1:]),
    ]
    hashes = {v.content_hash for v in variants} | {layout.content_hash}
    assert len(hashes) == 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"positive_label": "nope"}, "positive label"),
        ({"intersections": (("sex",),)}, "intersection"),
        ({"intersections": (("sex", "zodiac"),)}, "intersection"),
        ({"threshold": 0.42}, "threshold"),
        ({"task": "ranking"}, "task"),
    ],
)
def test_invalid_layouts_are_rejected(reference: CreditData, change: dict[str, object], message: str) -> None:
    layout = _layout(reference)
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(layout, **change)  # type: ignore[arg-type]


def test_reserved_attribute_values_are_rejected() -> None:
    batch = Batch(rows=2, attributes={"sex": [OTHER, "F"]}, labels=["a", "b"], predictions=["a", "b"])
    with pytest.raises(ValueError, match="reserved"):
        fit_layout(task="multiclass_classification", reference=batch)


def test_batch_rejects_ragged_columns() -> None:
    with pytest.raises(ValueError, match="rows"):
        Batch(rows=3, numeric={"x": np.zeros(2)})


def test_regression_layout_bins_predictions() -> None:
    rng = np.random.default_rng(5)
    preds = rng.normal(size=300)
    layout = fit_layout(task="regression", reference=Batch(rows=300, predictions=preds, labels=preds + 1))
    assert isinstance(layout.prediction, NumericBins)
    assert layout.prediction.edges[0] == preds.min()
    assert Layout.from_json(layout.to_json()) == layout


# A layout as stored before discrete columns existed (every stored layout has this shape).
STORED_LAYOUT: dict[str, object] = {
    "version": 1,
    "task": "regression",
    "numeric": [
        {"name": "x", "edges": [0.0, 0.5, 1.0, 2.0], "coarse": [0, 3], "center": 0.75},
        {"name": "k", "edges": [1.0, 2.0, 3.0], "coarse": [0, 2], "center": 2.0},
        {"name": "c", "edges": [7.0, 7.0], "coarse": [0, 1], "center": 7.0},
    ],
    "categorical": [{"name": "g", "values": ["a", "b"], "known": ["z"], "known_complete": True}],
    "attributes": [],
    "intersections": [],
    "classes": [],
    "positive_label": None,
    "threshold": 0.5,
    "score_edges": [0.0, 0.5, 1.0],
    "prediction": {
        "kind": "numeric",
        "name": "prediction",
        "edges": [-1.0, 1.0],
        "coarse": [0, 1],
        "center": 0.0,
    },
    "score": None,
}


def test_stored_layouts_keep_their_hash() -> None:
    """New fields of a layout part are left out of its JSON at their default value."""
    canonical = json.dumps(STORED_LAYOUT, sort_keys=True, separators=(",", ":"))
    layout = Layout.from_dict(STORED_LAYOUT)
    assert layout.to_json() == canonical
    assert layout.content_hash == hashlib.sha256(canonical.encode()).hexdigest()
    assert not any(bins.discrete for bins in layout.numeric)


def test_discrete_rule_and_serialisation() -> None:
    rng = np.random.default_rng(13)
    flag = fit_numeric("flag", (rng.random(500) < 0.3).astype(float))
    assert flag.discrete and flag.edges == (0.0, 1.0) and flag.bins == 4
    assert flag.to_dict()["discrete"] is True and NumericBins.from_dict(flag.to_dict()) == flag
    assert flag.index(np.array([-1.0, 0.0, 0.5, 1.0, 1.5])).tolist() == [0, 1, 1, 2, 3]
    # A continuous sample never qualifies (every value a singleton), however small.
    assert not fit_numeric("small", rng.normal(size=40)).discrete
    # More than 100 values (the fine bins) is continuous, even with repeats.
    assert not fit_numeric("many", rng.integers(0, 150, 20_000).astype(float)).discrete
    # Up to 1 % singletons (the Good-Turing unseen mass) is still discrete.
    tail = np.concatenate([rng.integers(0, 5, 990).astype(float), np.arange(10.0, 20.0)])
    assert fit_numeric("tail", tail).discrete
    assert not fit_numeric("tail", np.concatenate([tail, [30.0]])).discrete
    assert "discrete" not in fit_numeric("x", rng.normal(size=1_000)).to_dict()


def test_discrete_coarse_cells_group_values_by_reference_mass() -> None:
    x = np.repeat(np.arange(40.0), 25)  # 40 equally frequent values
    bins = fit_numeric("x", x)
    assert bins.discrete and bins.coarse[:2] == (0, 1) and bins.coarse[-2:] == (41, 42)
    inner = np.diff(bins.coarse[1:-1])
    assert len(inner) == 10 and set(inner.tolist()) == {4}  # deciles of 40 values: 4 each


def test_vocabulary_treats_nan_as_missing_and_compares_in_nfc() -> None:
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    column: list[str | float | None] = [composed, decomposed, float("nan"), np.nan, None, "tea"]
    vocab = fit_vocabulary("drink", column)
    assert vocab.values == (composed, "tea")  # the two spellings are one NFC value; NaN is missing
    codes = vocab.codes([decomposed, np.float64("nan"), float("nan"), "tea", "zzz", None])
    assert codes.tolist() == [0, vocab.missing, vocab.missing, 1, vocab.unseen, vocab.missing]
    assert vocab.group_codes([float("nan")]).tolist() == [len(vocab.group_names) - 1]  # "(missing)"
