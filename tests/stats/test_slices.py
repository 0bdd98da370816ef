"""Failing slices: counts that merge like the rest of a profile, tests checked against scipy
on raw rows, and the FDR rule by simulation (quiet data, a planted failing slice)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from service.stats.bins import bin_values
from service.stats.labels import label_delta
from service.stats.layout import Batch, Layout, fit_layout
from service.stats.profile import Profile, build_profile, merge_all
from service.stats.serialize import profile_from_dict, profile_to_dict
from service.stats.slice_search import SliceSearch, hypergeometric_sf, search_slices
from service.stats.slices import MAX_PAIR_CELLS, _codes, build_slices, coarse_table, plan_of

PURPOSES = np.array(["car", "home", "study", "travel", "debt"], dtype=object)
REGIONS = np.array(["north", "south", "east"], dtype=object)


def _batch(rows: int, seed: int, *, task: str = "binary_classification", planted: float = 0.0) -> Batch:
    """Errors at rate 0.2 (binary) or |e| ~ |N(0, 1)| (regression) everywhere, except
    ``planted`` more for purpose == "debt" and region == "south" together."""
    rng = np.random.default_rng(seed)
    purpose = rng.choice(PURPOSES, rows)
    region = rng.choice(REGIONS, rows)
    income = rng.lognormal(10, 0.5, rows)
    bad = (purpose == "debt") & (region == "south")
    numeric = {"income": income, "age": rng.uniform(18, 80, rows)}
    categorical = {"purpose": purpose}
    if task == "regression":
        truth = rng.normal(100, 10, rows)
        prediction = truth + rng.normal(0, 1, rows) * (1 + planted * bad)
        return Batch(rows, numeric, categorical, prediction, None, truth, {"region": region})
    positive = rng.random(rows) < 0.3
    wrong = rng.random(rows) < 0.2 + planted * bad
    names = np.array(["repaid", "default"], dtype=object)
    return Batch(
        rows,
        numeric,
        categorical,
        names[(positive ^ wrong).astype(int)],
        None,
        names[positive.astype(int)],
        {"region": region},
    )


def _layout(task: str = "binary_classification") -> Layout:
    positive = "default" if task == "binary_classification" else None
    return fit_layout(task=task, reference=_batch(2_000, seed=1, task=task), positive_label=positive)  # type: ignore[arg-type]


def _search(layout: Layout, profile: Profile, metric: str) -> SliceSearch:
    assert profile.slices is not None
    return search_slices(plan_of(layout), profile.slices, task=layout.task, metric=metric)


def _quick(layout: Layout, batch: Batch, metric: str) -> SliceSearch:
    """The search on the batch's slice counts alone (what ``build_profile`` stores), ~4x faster."""
    counts = build_slices(layout, batch, predicted=batch.predictions)
    return search_slices(plan_of(layout), counts, task=layout.task, metric=metric)


def test_counts_merge_serialise_and_take_late_labels() -> None:
    layout = _layout()
    batch = _batch(3_000, seed=2)
    whole = build_profile(layout, batch)
    halves = [build_profile(layout, _rows(batch, part)) for part in (slice(0, 1_000), slice(1_000, 3_000))]
    assert merge_all(halves, layout=layout).slices == whole.slices
    assert halves[0].merge(halves[1]).slices == whole.slices
    unlabelled = build_profile(layout, replace(batch, labels=None))
    assert unlabelled.merge(label_delta(layout, batch)).slices == whole.slices
    assert profile_from_dict(profile_to_dict(whole)) == whole
    # A profile stored before slices reads as None and makes a merge's slices None, never wrong.
    old = profile_to_dict(whole)
    del old["slices"]
    assert profile_from_dict(old).slices is None
    assert merge_all([profile_from_dict(old), whole], layout=layout).slices is None


def _rows(batch: Batch, part: slice) -> Batch:
    def cut(column: object) -> object:
        return None if column is None else column[part]  # type: ignore[index]

    size = len(range(*part.indices(batch.rows)))
    return Batch(
        size,
        {k: v[part] for k, v in batch.numeric.items()},
        {k: v[part] for k, v in batch.categorical.items()},
        cut(batch.predictions),  # type: ignore[arg-type]
        None,
        cut(batch.labels),  # type: ignore[arg-type]
        {k: v[part] for k, v in batch.attributes.items()},
    )


def test_plan_is_bounded() -> None:
    plan = plan_of(_layout())
    pair_cells = sum(plan.block_cells(p) for p in plan.pairs)
    assert 0 < pair_cells <= MAX_PAIR_CELLS
    assert plan.pairs[0] == (0, 1)  # region × purpose: an attribute with a feature comes first


def test_error_rate_test_is_fishers_exact_on_raw_rows() -> None:
    layout = _layout()
    batch = _batch(20_000, seed=3, planted=0.4)
    found = _search(layout, build_profile(layout, batch), "error_rate")
    single = next(f for f in found.findings if f.cells == (("categorical", "purpose", "debt"),))
    wrong = np.asarray(batch.predictions) != np.asarray(batch.labels)
    inside = np.asarray(batch.categorical["purpose"]) == "debt"
    x_s, n_s = int(wrong[inside].sum()), int(inside.sum())
    x_r, n_r = int(wrong[~inside].sum()), int((~inside).sum())
    fisher = stats.fisher_exact([[x_s, n_s - x_s], [x_r, n_r - x_r]], alternative="greater")
    assert single.n == n_s and single.rest_n == n_r
    assert single.value == pytest.approx(x_s / n_s) and single.gap == pytest.approx(x_s / n_s - x_r / n_r)
    assert single.p_value == pytest.approx(fisher.pvalue, rel=1e-6)
    ci = stats.binomtest(x_s, n_s).proportion_ci(confidence_level=0.95, method="wilson")
    assert (single.low, single.high) == pytest.approx((ci.low, ci.high), rel=1e-9)
    # The planted pair is the top finding, and it beats both of its parents.
    assert found.findings[0].cells == (("attribute", "region", "south"), ("categorical", "purpose", "debt"))


def test_tpr_is_reported_as_tpr_and_tested_on_positives() -> None:
    layout = _layout()
    batch = _batch(20_000, seed=4, planted=0.4)
    found = _search(layout, build_profile(layout, batch), "tpr")
    top = found.findings[0]
    positive = np.asarray(batch.labels) == "default"
    hit = np.asarray(batch.predictions) == "default"
    inside = (np.asarray(batch.categorical["purpose"]) == "debt") & (
        np.asarray(batch.attributes["region"]) == "south"
    )
    assert top.n == int((positive & inside).sum())
    assert top.value == pytest.approx(hit[positive & inside].mean())
    assert top.low <= top.value <= top.high and top.value < top.rest_value


def test_mae_statistic_is_welchs() -> None:
    layout = _layout("regression")
    batch = _batch(20_000, seed=5, task="regression", planted=1.0)
    found = _search(layout, build_profile(layout, batch), "mae")
    single = next(f for f in found.findings if f.cells == (("categorical", "purpose", "debt"),))
    error = np.abs(np.asarray(batch.predictions) - np.asarray(batch.labels))
    inside = np.asarray(batch.categorical["purpose"]) == "debt"
    welch = stats.ttest_ind(error[inside], error[~inside], equal_var=False, alternative="greater")
    assert single.value == pytest.approx(error[inside].mean())
    assert single.p_value == pytest.approx(welch.pvalue, rel=1e-6)
    assert found.findings[0].cells == (("attribute", "region", "south"), ("categorical", "purpose", "debt"))


@pytest.mark.parametrize("task", ["binary_classification", "regression"])
def test_quiet_windows_rarely_discover_and_a_planted_slice_is_found(task: str) -> None:
    """BH at q = 0.05 on data with no failing slice: every discovery is false, so the share
    of windows with any discovery is the FDR (≤ 0.05); 200 windows, so ≤ 18 allowed (the
    binomial(200, 0.05) 99.9% quantile). A pair 15 points (binary) or 80% (MAE) worse on
    ~1/15 of 4,000 rows is found in at least 95% of 40 windows."""
    layout = _layout(task)
    metric = "mae" if task == "regression" else "error_rate"
    quiet = sum(
        bool(_quick(layout, _batch(4_000, seed=100 + i, task=task), metric).findings) for i in range(200)
    )
    assert quiet <= stats.binom.ppf(0.999, 200, 0.05)
    planted = ("attribute", "region", "south"), ("categorical", "purpose", "debt")
    found = 0
    for i in range(40):
        batch = _batch(4_000, seed=1_000 + i, task=task, planted=0.15 if task != "regression" else 0.8)
        cells = [f.cells for f in _quick(layout, batch, metric).findings[:3]]
        found += planted in cells or planted[1:] in cells
    assert found >= 38


def test_hypergeometric_tail_matches_scipy_from_small_cells_to_a_million_rows() -> None:
    rng = np.random.default_rng(7)
    big = np.concatenate([rng.integers(60, 500, 300), rng.integers(10_000, 2_000_000, 300)]).astype(float)
    good = np.floor(big * rng.uniform(0.01, 0.6, big.size))
    draws = np.floor(big * rng.uniform(0.0005, 0.5, big.size)) + 1
    mean = draws * good / big
    sd = np.sqrt(mean * (1 - good / big) + 1e-9)
    x = np.clip(np.round(mean + rng.normal(0, 3, big.size) * sd), 0, draws)
    expected = stats.hypergeom.sf(x - 1, big, good, draws)
    assert hypergeometric_sf(x, big, good, draws) == pytest.approx(expected, rel=1e-7, abs=1e-12)


def test_numeric_cells_are_the_coarse_cells_of_the_fine_bins() -> None:
    layout = _layout()
    bins = layout.numeric[0]
    edges = np.asarray(bins.edges)
    rng = np.random.default_rng(8)
    x = np.concatenate([edges, edges[:1] - 1.0, edges[-1:] + 1.0, rng.lognormal(10, 0.7, 5_000)])
    # Independently: a search over the coarse edges themselves, the edge cells taking the rest.
    coarse_edges = edges[np.asarray(bins.coarse)]
    expected = np.clip(np.searchsorted(coarse_edges, x, side="right") - 1, 0, len(bins.coarse) - 2)
    table = coarse_table(bins)
    assert np.array_equal(table[bins.index(x)], expected)
    assert table[-1] == len(bins.coarse) - 1  # a missing value (bin −1): the missing cell


def test_numeric_slice_cells_of_missing_and_out_of_range_values() -> None:
    """A row's numeric cell, whether the profile hands its bins over or not: NaN, ±inf and
    |x| > 1e50 in the missing cell, values beyond the reference in the edge cells."""
    layout = _layout()
    batch = _batch(2_000, seed=9)
    income = batch.numeric["income"].copy()
    income[:6] = [np.nan, np.inf, -np.inf, 1e60, -1.0, 1e9]
    batch = replace(batch, numeric={**batch.numeric, "income": income})
    bins = next(b for b in layout.numeric if b.name == "income")
    column = next(c for c in plan_of(layout).columns if c.name == "income")
    keep = np.ones(batch.rows, dtype=bool)
    keep[::3] = False
    edges = np.asarray(bins.edges)[np.asarray(bins.coarse)]
    x = income[keep]
    expected = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(bins.coarse) - 2)
    expected[~(np.abs(x) <= 1e50)] = len(column.cells) - 1
    binned = {b.name: bin_values(b, batch.numeric.get(b.name)) for b in layout.numeric}
    for given in (None, binned):
        assert np.array_equal(_codes(layout, column, batch, keep, given), expected)
