"""The multivariate model (PCA of the standardised numeric features, reconstruction error):
checked against sklearn's PCA, its missing-value rule, its place in the layout and the
profile (mergeable, old formats still read), and its decision on seeded data."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from sklearn.decomposition import PCA

from service.stats.layout import Batch, Layout, fit_layout
from service.stats.multivariate import MultivariateModel, fit_multivariate, kept_axes
from service.stats.profile import Profile, build_profile, merge_all, reference_profile
from service.stats.serialize import profile_from_dict, profile_to_dict
from service.stats.verdict import evaluate_drift

MV = "multivariate_reconstruction_error"


def _mixed(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Four features: two latent factors mixed with noise, on different scales and means."""
    latent = rng.normal(size=(n, 2))
    mix = np.array([[1.0, 0.2], [0.8, -0.5], [0.1, 1.0], [0.6, 0.6]])
    x = latent @ mix.T + 0.3 * rng.normal(size=(n, 4))
    x = x * np.array([1.0, 10.0, 0.01, 3.0]) + np.array([0.0, 100.0, -5.0, 2.0])
    return {f"x{j}": x[:, j] for j in range(4)}


def _pair(rng: np.random.Generator, rho: float, n: int) -> Batch:
    a, b = rng.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]], size=n).T
    return Batch(rows=n, numeric={"a": a, "b": b})


def _fitted(numeric: dict[str, np.ndarray]) -> MultivariateModel:
    rows = len(next(iter(numeric.values())))
    model = fit_multivariate(numeric, rows=rows)
    assert model is not None
    return model


def test_axes_and_errors_match_sklearns_pca_on_standardised_data() -> None:
    numeric = _mixed(np.random.default_rng(3), 2000)
    model = _fitted(numeric)
    x = np.column_stack([numeric[name] for name in model.features])
    fitting = x[0::2]  # the model fits on the even rows (cross-fitting)
    z = (x - fitting.mean(axis=0)) / fitting.std(axis=0)  # population std, as the model
    # Kaiser's rule on sklearn's eigenvalues (explained_variance_ divides by n − 1, ours by n).
    n = len(fitting)
    eigenvalues = PCA(svd_solver="full").fit(z[0::2]).explained_variance_ * (n - 1) / n
    k = int(np.count_nonzero(eigenvalues >= 1.0))
    assert len(model.axes) == k == 2  # the two latent factors
    pca = PCA(n_components=k, svd_solver="full").fit(z[0::2])
    for ours, theirs in zip(np.asarray(model.axes), pca.components_, strict=True):
        assert abs(float(ours @ theirs)) == pytest.approx(1.0, abs=1e-9)  # same axis up to sign
    assert model.explained == pytest.approx(float(pca.explained_variance_ratio_.sum()), rel=1e-9)
    expected = np.linalg.norm(z - pca.inverse_transform(pca.transform(z)), axis=1)
    np.testing.assert_allclose(model.errors(numeric, 2000), expected, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("features", [2, 3, 4, 15])
def test_a_rows_error_has_the_same_bits_whatever_rows_surround_it(features: int) -> None:
    """A bucket's profile must equal its part of a batch's, bit for bit: a row's error may not
    depend on how many rows share the call or where the row sits among them (it did, in the
    last bits, with OpenBLAS on a column-major matrix on one machine)."""
    rng = np.random.default_rng(features)
    rows = 3001
    mixed = rng.normal(size=(rows, 2)) @ rng.normal(size=(2, features))
    x = mixed + 0.5 * rng.normal(size=(rows, features))
    numeric = {f"x{j}": x[:, j] for j in range(features)}
    model = _fitted(numeric)
    whole = model.errors(numeric, rows)
    for start, stop in [(0, 1), (3, 11), (5, 6), (7, 38), (100, 200), (1274, 1325), (17, 2999), (3000, 3001)]:
        part = {name: values[start:stop] for name, values in numeric.items()}
        assert model.errors(part, stop - start).tobytes() == whole[start:stop].tobytes(), (start, stop)


def test_the_kept_axes_carry_a_features_variance_and_leave_at_least_one_out() -> None:
    assert kept_axes(np.array([2.6, 1.0, 0.4])) == 2
    assert kept_axes(np.array([1.8, 0.2])) == 1
    assert kept_axes(np.array([1.0, 1.0, 1.0])) == 2  # 3 would leave no error at all
    assert kept_axes(np.array([0.9, 0.5])) == 1  # mean imputation shrank every variance


def test_missing_values_are_imputed_with_the_reference_mean_and_empty_rows_have_no_error() -> None:
    rng = np.random.default_rng(5)
    batch = _pair(rng, 0.8, 500)
    model = _fitted(dict(batch.numeric))
    window = {"a": np.array([1.0, 1.0, np.nan, math.inf]), "b": np.array([np.nan, model.means[1], 2.0, 1e60])}
    errors = model.errors(window, 4)
    assert errors[0] == pytest.approx(errors[1], rel=1e-12)  # missing b = b at its reference mean
    assert math.isfinite(errors[2]) and math.isnan(errors[3])
    assert math.isnan(model.errors({}, 1)[0])  # no numeric column at all: no error


def test_no_model_without_two_non_constant_numeric_features() -> None:
    rng = np.random.default_rng(6)
    assert fit_multivariate({"a": rng.normal(size=100)}, rows=100) is None
    assert fit_multivariate({"a": rng.normal(size=100), "c": np.full(100, 3.0)}, rows=100) is None
    three = {"a": rng.normal(size=100), "b": rng.normal(size=100), "c": np.full(100, 3.0)}
    model = fit_multivariate(three, rows=100)
    assert model is not None and model.features == ("a", "b")
    layout = fit_layout(task="regression", reference=Batch(rows=100, numeric={"a": three["a"]}))
    assert layout.multivariate is None and build_profile(layout, Batch(rows=3)).multivariate is None


def test_layouts_without_a_model_keep_their_json_and_a_model_round_trips() -> None:
    batch = _pair(np.random.default_rng(7), 0.8, 1000)
    plain = fit_layout(task="regression", reference=batch, multivariate=False)
    assert "multivariate" not in plain.to_dict()  # what every layout stored before looks like
    assert Layout.from_dict(plain.to_dict()).content_hash == plain.content_hash
    layout = fit_layout(task="regression", reference=batch)
    assert layout.multivariate is not None and layout.content_hash != plain.content_hash
    again = Layout.from_json(layout.to_json())
    assert again == layout and again.content_hash == layout.content_hash


def test_error_summaries_merge_by_addition_and_old_profiles_still_read() -> None:
    rng = np.random.default_rng(8)
    reference = _pair(rng, 0.8, 1000)
    layout = fit_layout(task="regression", reference=reference)
    whole = _pair(rng, 0.0, 900)
    parts = [build_profile(layout, whole.slice(a, a + 300)) for a in (0, 300, 600)]
    merged, direct = merge_all(parts, layout=layout).multivariate, build_profile(layout, whole).multivariate
    folded = parts[0].merge(parts[1]).merge(parts[2]).multivariate
    assert merged is not None and direct is not None and folded is not None
    assert merged.bins == direct.bins == folded.bins and merged.count == direct.count == 900
    assert merged.total == pytest.approx(direct.total, rel=1e-12)
    assert Profile.empty(layout).merge(parts[0]) == parts[0]
    assert profile_from_dict(profile_to_dict(parts[0])) == parts[0]
    old = profile_to_dict(parts[0])
    del old["multivariate"]  # a profile stored before the field existed
    assert profile_from_dict(old).multivariate is None
    # A part without the summary makes the merged one unknown rather than partial.
    assert merge_all([parts[1], profile_from_dict(old)], layout=layout).multivariate is None
    assert replace(parts[1], multivariate=None).merge(parts[2]).multivariate is None


def test_a_correlation_flip_drifts_only_the_multivariate_column() -> None:
    rng = np.random.default_rng(9)
    reference = _pair(rng, 0.8, 3000)
    layout = fit_layout(task="regression", reference=reference)
    ref = reference_profile(layout, reference)
    report = evaluate_drift(
        layout=layout, reference=ref, window=build_profile(layout, _pair(rng, -0.8, 3000))
    )
    assert {f.feature: f.status for f in report.features} == {"a": "ok", "b": "ok", MV: "drift"}
    (mv,) = [f for f in report.features if f.role == "multivariate"]
    assert mv.test == "ks" and mv.effect == "wasserstein_norm" and mv.n_window == 3000
    assert mv.effect_size is not None and mv.effect_se is not None
    assert mv.effect_size - 3 * mv.effect_se > 1.0  # the error's spread triples: far past 0.1


def test_the_reference_profile_holds_the_held_out_rows_errors() -> None:
    reference = _pair(np.random.default_rng(11), 0.8, 1001)
    layout = fit_layout(task="regression", reference=reference)
    held = reference_profile(layout, reference).multivariate
    assert held is not None and held.count == 500  # the odd rows of 1,001
    assert layout.multivariate is not None
    errors = layout.multivariate.errors(dict(reference.numeric), 1001)[1::2]
    assert held.total == pytest.approx(float(errors.sum()), rel=1e-12)
    assert reference_profile(layout, reference).numeric == build_profile(layout, reference).numeric


def test_quiet_windows_reject_at_most_at_the_nominal_level() -> None:
    """200 seeded quiet windows of 1,000 rows, 4 for each of 50 fitted references (a rate on one
    reference is conditional on its draw): the multivariate test's raw p < 0.05 at most 5 % of
    the time (with 3 binomial standard errors of slack) and its drift verdict, which also asks
    an effect ≥ 0.1, never more often. Larger runs: benchmarks/multivariate.py."""
    rng = np.random.default_rng(10)
    rejected = drifted = windows = 0
    for _ in range(50):
        reference = _pair(rng, 0.8, 2000)
        layout = fit_layout(task="regression", reference=reference)
        ref = reference_profile(layout, reference)
        for _ in range(4):
            window = build_profile(layout, _pair(rng, 0.8, 1000))
            (mv,) = [
                f
                for f in evaluate_drift(layout=layout, reference=ref, window=window).features
                if f.role == "multivariate"
            ]
            rejected += mv.p_value is not None and mv.p_value < 0.05
            drifted += mv.status == "drift"
            windows += 1
    assert rejected <= 0.05 * windows + 3 * math.sqrt(0.05 * 0.95 * windows)
    assert drifted <= rejected
