"""Score histogram edges fitted to the reference's score quantiles (class-balanced when labelled)."""

from __future__ import annotations

import json
from itertools import pairwise

import numpy as np
import pytest

from service.stats.layout import SCORE_BINS, Batch, Layout, fit_layout, score_edges


def _rare(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    y = rng.random(n) < 0.03
    return 1.0 / (1.0 + np.exp(-(rng.normal(0.0, 1.0, n) + 2.0 * y - 4.2))), y


def _shares(edges: tuple[float, ...], scores: np.ndarray) -> np.ndarray:
    counts, _ = np.histogram(scores, bins=np.asarray(edges))
    return counts / scores.size


def test_edges_span_zero_to_one_with_the_threshold_and_no_duplicates() -> None:
    rng = np.random.default_rng(1)
    edges = score_edges(threshold=0.37, scores=rng.beta(2, 3, 10_000))
    assert edges[0] == 0.0
    assert edges[-1] == 1.0
    assert 0.37 in edges
    assert all(a < b for a, b in pairwise(edges))
    assert len(edges) <= SCORE_BINS + 2  # bins − 1 quantiles, 0, 1 and the threshold


def test_unlabelled_reference_gets_equal_mass_bins() -> None:
    rng = np.random.default_rng(2)
    scores, _ = _rare(rng, 40_000)
    edges = score_edges(bins=50, scores=scores[:20_000])
    shares = _shares(edges, scores[20_000:])
    assert shares.max() < 2.5 / 50  # ~1/50 each (the threshold splits one bin in two)
    # the old fixed k/20 edges put ~90 % of these rows in the first bin
    assert _shares(score_edges(bins=20), scores).max() > 0.85


def test_labelled_reference_gives_each_class_half_the_bins() -> None:
    rng = np.random.default_rng(3)
    scores, y = _rare(rng, 60_000)
    labels = np.where(y, "default", "repaid").astype(object)
    edges = score_edges(bins=50, scores=scores[:30_000], labels=labels[:30_000], positive_label="default")
    test_s, test_y = scores[30_000:], y[30_000:]
    balanced = 0.5 * _shares(edges, test_s[test_y]) + 0.5 * _shares(edges, test_s[~test_y])
    assert balanced.max() < 2.5 / 50  # each bin ~1/50 of the class-balanced mass
    # so the positives are spread over many bins, not crowded into the top two or three
    positive_bins = np.count_nonzero(_shares(edges, test_s[test_y]) > 0.005)
    assert positive_bins > 20


def test_few_labelled_positives_fall_back_to_plain_quantiles() -> None:
    # Balancing the classes needs at least ``bins`` labelled rows of each: with 10 labelled
    # positives the positive half of the bins would sit on 10 points, so every row counts alike.
    rng = np.random.default_rng(4)
    scores, y = _rare(rng, 2_000)
    labels = np.where(y, "default", "repaid").astype(object)
    labels[np.flatnonzero(y)[10:]] = None
    assert score_edges(scores=scores, labels=labels, positive_label="default") == score_edges(scores=scores)


def test_ties_share_a_bin_and_no_scores_fall_back_to_equal_width() -> None:
    discrete = np.repeat([0.1, 0.2, 0.3, 0.8], 250)
    edges = score_edges(scores=discrete)
    assert set(edges) == {0.0, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0}
    assert score_edges(bins=4, scores=np.full(10, np.nan)) == (0.0, 0.25, 0.5, 0.75, 1.0)
    assert score_edges(bins=4) == (0.0, 0.25, 0.5, 0.75, 1.0)
    with pytest.raises(ValueError, match="strictly between"):
        score_edges(threshold=0.0, scores=discrete)


def test_fit_layout_fits_score_edges_on_the_reference_and_stored_layouts_keep_theirs() -> None:
    rng = np.random.default_rng(5)
    scores, y = _rare(rng, 5_000)
    labels = np.where(y, "default", "repaid").astype(object)
    reference = Batch(
        rows=y.size, scores=scores, labels=labels, predictions=np.where(scores >= 0.5, "default", "repaid")
    )
    layout = fit_layout(task="binary_classification", reference=reference, positive_label="default")
    assert layout.score_edges == score_edges(scores=scores, labels=labels, positive_label="default")
    assert layout.threshold in layout.score_edges
    # a layout stored with the old k/20 edges reads back unchanged, with the same hash
    stored = json.loads(layout.to_json())
    stored["score_edges"] = list(score_edges(bins=20))
    old = Layout.from_dict(stored)
    assert old.score_edges == score_edges(bins=20)
    assert Layout.from_json(old.to_json()).content_hash == old.content_hash
