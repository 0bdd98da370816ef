"""Data quality from profiles against direct counts on the raw columns."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pytest

from service.stats.layout import Batch, fit_layout
from service.stats.profile import build_profile
from service.stats.quality import evaluate_quality
from service.stats.verdict import evaluate_drift

if TYPE_CHECKING:
    from tests.stats.conftest import CreditData


def test_rates_match_direct_counts(credit_data: Callable[..., CreditData]) -> None:
    ref = credit_data(3_000, seed=31)
    win = credit_data(2_000, seed=32, shift={"payment_ratio": 3.0}, missing_rate=0.05)
    rng = np.random.default_rng(33)
    housing = np.array(win.batch.categorical["housing"], dtype=object)
    housing[rng.random(housing.size) < 0.1] = "houseboat"  # never seen in the reference
    batch = Batch(
        rows=win.batch.rows,
        numeric=win.batch.numeric,
        categorical={**win.batch.categorical, "housing": housing},
    )
    ref_batch = Batch(rows=ref.batch.rows, numeric=ref.batch.numeric, categorical=ref.batch.categorical)
    layout = fit_layout(task="regression", reference=ref_batch)
    results = evaluate_quality(
        layout=layout, reference=build_profile(layout, ref_batch), window=build_profile(layout, batch)
    )
    quality = {q.feature: q for q in results}
    for bins in layout.numeric:
        x = batch.numeric[bins.name]
        finite = x[np.isfinite(x)]
        q = quality[bins.name]
        ref_x = ref.batch.numeric[bins.name]
        assert q.missing_rate == pytest.approx(np.mean(~np.isfinite(x)))
        assert q.reference_missing_rate == pytest.approx(np.mean(~np.isfinite(ref_x)))
        # The counts behind both rates, for a two-proportion test of the change.
        assert (q.rows, q.missing) == (x.size, int(np.sum(~np.isfinite(x))))
        assert (q.reference_rows, q.reference_missing) == (ref_x.size, int(np.sum(~np.isfinite(ref_x))))
        lo, hi = np.nanmin(ref_x), np.nanmax(ref_x)
        assert q.out_of_range_share == pytest.approx(np.mean((finite < lo) | (finite > hi)))
        assert q.unseen is None and q.status == "ok"
    assert (quality["payment_ratio"].out_of_range_share or 0.0) > 0.5  # bounded column moved 3 std
    q = quality["housing"]
    present = housing[housing != None]  # noqa: E711 - elementwise on an object array
    assert q.unseen_share == pytest.approx(np.mean(present == "houseboat"))
    assert q.missing_rate == pytest.approx(np.mean(housing == None))  # noqa: E711
    ref_housing = np.asarray(ref.batch.categorical["housing"], dtype=object)
    assert q.reference_rows == ref_housing.size
    assert q.reference_missing == int(np.sum(ref_housing == None))  # noqa: E711
    assert quality["region"].unseen == 0


def test_empty_or_small_windows_report_no_rates() -> None:
    ref = Batch(rows=3, numeric={"x": np.array([1.0, 2.0, 3.0])}, categorical={"c": ["a", "b", None]})
    layout = fit_layout(task="regression", reference=ref)
    profile = build_profile(layout, ref)
    empty = evaluate_quality(layout=layout, reference=profile, window=build_profile(layout, Batch(rows=0)))
    assert all(q.missing_rate is None and q.status == "insufficient_data" for q in empty)
    small = evaluate_quality(layout=layout, reference=profile, window=profile, min_rows=10)
    assert all(q.missing_rate is None and q.unseen_share is None for q in small)
    full = evaluate_quality(layout=layout, reference=profile, window=profile)
    assert full[1].missing_rate == pytest.approx(1 / 3)


def test_drift_report_carries_quality(credit_data: Callable[..., CreditData]) -> None:
    data = credit_data(500, seed=34)
    layout = fit_layout(task="binary_classification", reference=data.batch, positive_label="default")
    profile = build_profile(layout, data.batch)
    report = evaluate_drift(layout=layout, reference=profile, window=profile)
    assert [q.feature for q in report.quality] == list(layout.feature_names)
    assert report.drifted == ()  # a window identical to its reference never drifts
