"""Nothing unrepresentable reaches a stored profile, and old profiles with null sums still read.

Numbers beyond MAX_MAGNITUDE (1e50), ±inf and NaN are missing everywhere a profile sums
them; NaN in a string column is missing like None. Writing a non-finite float refuses with
a ValueError; reading a profile stored with null sums drops what the nulls covered, and
every figure computed from it is a number or None, never NaN.
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace
from typing import Any

import numpy as np
import pytest

from service.stats.drift import STD_FLOOR
from service.stats.layout import MAX_MAGNITUDE, Batch, Layout, fit_layout
from service.stats.performance import binary_performance, regression_performance
from service.stats.profile import Profile, build_profile, merge_all
from service.stats.quality import evaluate_quality
from service.stats.serialize import profile_from_bytes, profile_from_dict, profile_to_bytes, profile_to_dict
from service.stats.verdict import evaluate_drift


def _binary(rows: int, seed: int, **numeric: np.ndarray) -> Batch:
    rng = np.random.default_rng(seed)
    scores = rng.random(rows)
    return Batch(
        rows=rows,
        numeric={"x": rng.normal(10.0, 2.0, rows), **numeric},
        categorical={"c": list(rng.choice(np.array(["a", "b"]), rows))},
        scores=scores,
        predictions=list(np.where(scores >= 0.5, "yes", "no")),
        labels=list(np.where(rng.random(rows) < scores, "yes", "no")),
        attributions={"x": rng.normal(size=rows)},
    )


def _layout(batch: Batch) -> Layout:
    return fit_layout(task="binary_classification", reference=batch, positive_label="yes")


def _all_finite(value: Any) -> bool:
    """No NaN or infinity anywhere in a (nested) dict / list / dataclass dict."""
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_all_finite(v) for v in value)
    return not isinstance(value, float) or math.isfinite(value)


def test_one_huge_reference_value_is_missing_and_the_variance_stays_finite() -> None:
    x = np.random.default_rng(1).normal(size=1_000)
    x[0] = 1e200
    layout = fit_layout(task="regression", reference=Batch(rows=1_000, numeric={"x": x}))
    summary = build_profile(layout, Batch(rows=1_000, numeric={"x": x})).numeric["x"]
    assert summary.count == 999 and summary.missing == 1
    assert summary.variance == pytest.approx(np.var(x[1:]), rel=1e-9)
    assert layout.numeric[0].edges[-1] == x[1:].max()  # the fit ignores it too


def test_huge_values_anywhere_never_make_a_sum_non_finite() -> None:
    reference = _binary(500, 2)
    layout = _layout(reference)
    window = _binary(500, 3)
    window.numeric["x"][:2] = 1e308  # two of them used to overflow Σx to inf
    assert window.scores is not None
    window.scores[5] = 1e300
    window.attributions["x"][:3] = [1e308, -np.inf, 2e50]
    profile = build_profile(layout, window)
    assert _all_finite(profile_to_dict(profile))
    assert profile.numeric["x"].count == 498 and profile.numeric["x"].missing == 2
    assert profile.attributions["x"].count == 497
    binary = profile.outcomes[()].binary
    assert binary is not None and binary.n == 500 and binary.scored_labelled == 499
    assert profile_from_bytes(profile_to_bytes(profile)) == profile


def test_regression_outputs_beyond_the_cap_are_missing() -> None:
    rng = np.random.default_rng(4)
    pred, y = rng.normal(size=200), rng.normal(size=200)
    pred[0], y[1], y[2] = 1e300, np.inf, -1e60
    batch = Batch(rows=200, predictions=pred, labels=y)
    layout = fit_layout(task="regression", reference=batch)
    profile = build_profile(layout, batch)
    sums = profile.outcomes[()].regression
    assert sums is not None and sums.n == 199 and sums.labelled == 197
    assert _all_finite(profile_to_dict(profile))
    assert MAX_MAGNITUDE == 1e50


def test_nan_in_string_columns_is_missing_like_none() -> None:
    nan = float("nan")
    batch = Batch(
        rows=6,
        categorical={"c": ["a", nan, None, "a", np.nan, "b"]},
        predictions=["yes", nan, "no", "yes", "no", "yes"],
        labels=["yes", "no", nan, None, "no", np.nan],
        attributes={"sex": ["F", "M", nan, "F", "M", "F"]},
        scores=np.array([0.9, 0.1, 0.2, 0.8, 0.3, 0.7]),
    )
    layout = _layout(batch)
    assert layout.classes == ("no", "yes") and layout.categorical[0].values == ("a", "b")
    profile = build_profile(layout, batch)
    assert (profile.categorical["c"].count, profile.categorical["c"].missing) == (3, 3)
    overall = profile.outcomes[()].binary
    assert overall is not None and overall.n == 5 and overall.labelled == 2  # rows 0 and 4
    assert (("sex", "(missing)"),) in profile.outcomes


def test_multiclass_nan_prediction_and_label_are_missing() -> None:
    nan = float("nan")
    batch = Batch(rows=4, predictions=["a", nan, "b", "a"], labels=["a", "b", nan, "b"])
    layout = fit_layout(task="multiclass_classification", reference=batch, classes=("a", "b"))
    counts = build_profile(layout, batch).outcomes[()].multiclass
    assert counts is not None and counts.n == 3 and counts.labelled == 2


def test_writing_a_non_finite_float_is_refused_with_the_field() -> None:
    batch = _binary(100, 5)
    profile = build_profile(_layout(batch), batch)
    bad = replace(profile, numeric={"x": replace(profile.numeric["x"], total=math.inf)})
    with pytest.raises(ValueError, match="numeric sums"):
        profile_to_dict(bad)
    binary = profile.outcomes[()].binary
    assert binary is not None
    bad_brier = replace(
        profile, outcomes={(): replace(profile.outcomes[()], binary=replace(binary, brier_sum=math.nan))}
    )
    with pytest.raises(ValueError, match=r"binary\.brier_sum"):
        profile_to_bytes(bad_brier)


def _stored_with_nulls(profile: Profile) -> dict[str, Any]:
    """What orjson stored for a bucket whose sums overflowed: nulls where inf was."""
    data = profile_to_dict(profile)
    data["numeric"]["x"]["total"] = None
    data["numeric"]["x"]["bin_sums"][3] = None
    data["attributions"]["x"][1] = None
    data["outcomes"][0]["binary"]["brier_sum"] = None
    data["outcomes"][0]["scores"]["score_sum_positive"][2] = None
    return data


def test_a_stored_profile_with_null_sums_reads_and_evaluates_without_nan() -> None:
    reference = _binary(2_000, 6)
    layout = _layout(reference)
    ref_profile = build_profile(layout, reference)
    bucket, healthy = build_profile(layout, _binary(800, 7)), build_profile(layout, _binary(800, 8))
    damaged = profile_from_dict(_stored_with_nulls(bucket))
    assert damaged.numeric["x"].lost_sums and damaged.numeric["x"].mean is None
    window = merge_all([damaged, healthy], layout=layout)
    assert window.numeric["x"].lost_sums and window.numeric["x"].variance is None
    assert profile_from_bytes(profile_to_bytes(window)) == window  # read-modify-write stores it again

    report = evaluate_drift(layout=layout, reference=ref_profile, window=window)
    x = next(f for f in report.features if f.feature == "x")
    assert (x.status, x.reason) == ("insufficient_data", "lost_sums")
    assert x.effect_size is None and x.p_value is None and x.q_value is None
    others = [f for f in report.features if f.feature != "x"]
    assert all(f.status != "insufficient_data" for f in others)
    assert _all_finite([asdict(f) for f in report.features])
    quality = {q.feature: q for q in evaluate_quality(layout=layout, reference=ref_profile, window=window)}
    assert quality["x"].missing_rate == 0.0 and quality["x"].rows == 1_600

    binary, histogram = window.outcomes[()].binary, window.outcomes[()].scores
    assert binary is not None and histogram is not None
    performance = binary_performance(counts=binary, histogram=histogram)
    brier = performance.get("brier")
    assert brier.n == 800 and brier.value is not None  # only the healthy bucket's rows
    assert all(_all_finite(asdict(m)) for m in performance.metrics)
    assert "x" not in damaged.attributions


def test_regression_sums_stored_null_drop_the_labelled_part() -> None:
    rng = np.random.default_rng(9)
    batch = Batch(rows=300, predictions=rng.normal(size=300), labels=rng.normal(size=300))
    layout = fit_layout(task="regression", reference=batch)
    data = profile_to_dict(build_profile(layout, batch))
    data["outcomes"][0]["regression"]["sum_quartic_error"] = None
    data["prediction"]["total_sq"] = None
    profile = profile_from_dict(data)
    sums = profile.outcomes[()].regression
    assert sums is not None and sums.n == 300 and sums.labelled == 0 and sums.sum_sq_error == 0.0
    report = regression_performance(sums=sums)
    assert all(m.status == "insufficient_data" and m.value is None for m in report.metrics)
    assert profile.prediction is not None and profile.prediction.lost_sums  # type: ignore[union-attr]
    assert _all_finite(profile_to_dict(profile))


def test_profiles_stored_before_keep_reading_the_same() -> None:
    """A stored numeric summary has no ``lost_sums`` key; one without nulls reads as before."""
    batch = _binary(200, 10)
    profile = build_profile(_layout(batch), batch)
    data = profile_to_dict(profile)
    assert "lost_sums" not in data["numeric"]["x"]
    assert profile_from_dict(data) == profile
    assert STD_FLOOR == 0.001
