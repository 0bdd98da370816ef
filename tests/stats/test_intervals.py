"""Intervals against statsmodels (independent implementation) and by simulated coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.metrics import roc_auc_score
from statsmodels.stats.proportion import (  # type: ignore[import-untyped]
    confint_proportions_2indep,
    proportion_confint,
)

from service.stats.intervals import (
    MetricValue,
    Moments,
    hanley_mcneil,
    katz_ratio,
    logit_interval,
    logit_normal,
    newcombe_difference,
    normal_mean,
    sample_variance,
    skewed_mean_interval,
    t_value,
    wilson,
    z_value,
)

# A 95 % interval's simulated coverage over R replicates has standard error
# √(0.95 · 0.05 / R) ≈ 0.0097 at R = 500; ±0.03 is ~3 SE, plus room for the method's own
# deviation from nominal (Wilson/Newcombe stay within ~±0.015 at these sizes).
REPLICATES = 500
BAND = (0.92, 0.98)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 5000), frac=st.floats(0, 1), conf=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_equals_statsmodels(n: int, frac: float, conf: float) -> None:
    x = round(frac * n)
    low, high = wilson(successes=x, trials=n, confidence=conf)
    ref_low, ref_high = proportion_confint(x, n, alpha=1 - conf, method="wilson")
    assert low == pytest.approx(ref_low, abs=1e-12)
    assert high == pytest.approx(ref_high, abs=1e-12)
    assert 0.0 <= low <= x / n <= high <= 1.0


@settings(max_examples=200, deadline=None)
@given(n_a=st.integers(1, 3000), n_b=st.integers(1, 3000), fa=st.floats(0, 1), fb=st.floats(0, 1))
def test_newcombe_equals_statsmodels(n_a: int, n_b: int, fa: float, fb: float) -> None:
    x_a, x_b = round(fa * n_a), round(fb * n_b)
    got = newcombe_difference(successes_a=x_a, trials_a=n_a, successes_b=x_b, trials_b=n_b)
    ref = confint_proportions_2indep(x_a, n_a, x_b, n_b, method="newcomb", compare="diff")
    assert got == pytest.approx(ref, abs=1e-12)
    assert got[0] <= x_a / n_a - x_b / n_b <= got[1]


@settings(max_examples=200, deadline=None)
@given(n_a=st.integers(1, 3000), n_b=st.integers(1, 3000), fa=st.floats(0, 1), fb=st.floats(0, 1))
def test_katz_equals_statsmodels_log_and_log_adjusted(n_a: int, n_b: int, fa: float, fb: float) -> None:
    x_a, x_b = round(fa * n_a), round(fb * n_b)
    method = "log" if x_a > 0 and x_b > 0 else "log-adjusted"
    got = katz_ratio(successes_a=x_a, trials_a=n_a, successes_b=x_b, trials_b=n_b)
    ref = confint_proportions_2indep(x_a, n_a, x_b, n_b, method=method, compare="ratio")
    assert got == pytest.approx(ref, rel=1e-10)
    assert all(math.isfinite(v) for v in got)


def test_z_value_and_bad_input() -> None:
    assert z_value(0.95) == pytest.approx(1.959963984540054, abs=1e-12)
    with pytest.raises(ValueError):
        z_value(1.0)
    with pytest.raises(ValueError):
        wilson(successes=3, trials=0)
    with pytest.raises(ValueError):
        wilson(successes=5, trials=4)


def _exact_wilson_coverage(n: int, p: float) -> float:
    xs = np.arange(n + 1)
    inside = [lo <= p <= hi for lo, hi in (wilson(successes=int(x), trials=n) for x in xs)]
    return float(stats.binom.pmf(xs, n, p)[np.array(inside)].sum())


@pytest.mark.parametrize(("n", "p"), [(40, 0.2), (200, 0.05), (1000, 0.5)])
def test_wilson_coverage_by_simulation(n: int, p: float) -> None:
    rng = np.random.default_rng(11)
    xs = rng.binomial(n, p, size=REPLICATES)
    hits = sum(lo <= p <= hi for lo, hi in (wilson(successes=int(x), trials=n) for x in xs))
    assert BAND[0] <= hits / REPLICATES <= BAND[1]
    # the exact coverage (binomial sum) sits near nominal; Wilson's coverage oscillates
    # with (n, p) and dips to ~0.93 at n = 40, p = 0.2 (Brown, Cai & DasGupta 2001)
    assert 0.92 <= _exact_wilson_coverage(n, p) <= 0.98


@pytest.mark.parametrize(("n_a", "p_a", "n_b", "p_b"), [(60, 0.3, 80, 0.15), (300, 0.05, 150, 0.08)])
def test_newcombe_coverage_by_simulation(n_a: int, p_a: float, n_b: int, p_b: float) -> None:
    rng = np.random.default_rng(12)
    x_a, x_b = rng.binomial(n_a, p_a, REPLICATES), rng.binomial(n_b, p_b, REPLICATES)
    hits = 0
    for a, b in zip(x_a, x_b, strict=True):
        lo, hi = newcombe_difference(successes_a=int(a), trials_a=n_a, successes_b=int(b), trials_b=n_b)
        hits += lo <= p_a - p_b <= hi
    assert BAND[0] <= hits / REPLICATES <= BAND[1]


def test_katz_coverage_by_simulation() -> None:
    rng = np.random.default_rng(13)
    n_a, p_a, n_b, p_b = 120, 0.25, 150, 0.4
    x_a, x_b = rng.binomial(n_a, p_a, REPLICATES), rng.binomial(n_b, p_b, REPLICATES)
    hits = 0
    for a, b in zip(x_a, x_b, strict=True):
        lo, hi = katz_ratio(successes_a=int(a), trials_a=n_a, successes_b=int(b), trials_b=n_b)
        hits += lo <= p_a / p_b <= hi
    assert BAND[0] <= hits / REPLICATES <= BAND[1]


def test_hanley_mcneil_coverage_binormal() -> None:
    # Binormal scores, separation 1 SD: true AUC = Φ(1/√2) ≈ 0.760. Hanley–McNeil assumes
    # exponential score shapes, so allow a slightly wider band (0.90–0.985) for 300 runs.
    rng = np.random.default_rng(14)
    true_auc = float(stats.norm.cdf(1 / math.sqrt(2)))
    hits, runs = 0, 300
    for _ in range(runs):
        pos, neg = rng.normal(1.0, 1.0, 80), rng.normal(0.0, 1.0, 120)
        # Mann–Whitney form: AUC = (rank sum of positives − n₊(n₊+1)/2) / (n₊ n₋)
        auc = (float(stats.rankdata(np.r_[pos, neg])[:80].sum()) - 80 * 81 / 2) / (80 * 120)
        lo, hi = hanley_mcneil(auc=auc, n_positive=80, n_negative=120)
        hits += lo <= true_auc <= hi
    assert 0.90 <= hits / runs <= 0.985


def test_mann_whitney_auc_matches_sklearn() -> None:
    rng = np.random.default_rng(16)
    pos, neg = rng.normal(1.0, 1.0, 80), rng.normal(0.0, 1.0, 120)
    auc = (float(stats.rankdata(np.r_[pos, neg])[:80].sum()) - 80 * 81 / 2) / (80 * 120)
    assert auc == pytest.approx(roc_auc_score(np.r_[np.ones(80), np.zeros(120)], np.r_[pos, neg]), abs=1e-12)


def test_logit_interval_contains_value_and_handles_edges() -> None:
    lo, hi = logit_interval(value=0.7, n=50)
    assert 0.0 < lo < 0.7 < hi < 1.0

    # symmetric on the logit scale
    def logit(v: float) -> float:
        return math.log(v / (1 - v))

    assert logit(0.7) - logit(lo) == pytest.approx(logit(hi) - logit(0.7), rel=1e-12)
    assert logit_interval(value=1.0, n=50) == (1.0, 1.0)


def test_normal_mean_and_sample_variance() -> None:
    rng = np.random.default_rng(15)
    x = 1e6 + rng.standard_normal(1000)
    var = sample_variance(total=float(x.sum()), total_sq=float(np.sum(x * x)), n=x.size)
    # Σx² − (Σx)²/n cancels ~12 digits at mean 1e6, so only ~1e-3 relative survives
    assert var == pytest.approx(float(np.var(x, ddof=1)), rel=1e-3)
    lo, hi = normal_mean(mean=2.0, variance=4.0, n=100)
    assert (lo, hi) == pytest.approx((2.0 - 1.959963984540054 * 0.2, 2.0 + 1.959963984540054 * 0.2))


def test_metric_value_never_serves_nan() -> None:
    bad = MetricValue.insufficient("tpr", n=3, method="wilson")
    assert bad.to_dict() == {
        "metric": "tpr",
        "value": None,
        "n": 3,
        "ci_low": None,
        "ci_high": None,
        "status": "insufficient_data",
        "method": "wilson",
    }
    good = MetricValue.ok("mape", value=0.1, n=40, interval=None, method="normal")
    assert good.method == "none"
    assert good.ci_low is None
    assert good.status == "ok"


@pytest.mark.parametrize(("confidence", "df"), [(0.95, 1), (0.95, 29), (0.999, 99), (0.9, 5000)])
def test_t_value_equals_scipy(confidence: float, df: int) -> None:
    assert t_value(confidence, df) == pytest.approx(stats.t.ppf(0.5 + confidence / 2, df), rel=1e-12)
    assert t_value(confidence, 10**7) == z_value(confidence)


def _moments(x: np.ndarray) -> Moments:
    return Moments.from_sums(
        total=float(x.sum()), total_sq=float(np.sum(x**2)), total_cube=float(np.sum(x**3)), n=x.size
    )


def test_moments_from_sums_equal_numpy_and_scipy() -> None:
    x = np.random.default_rng(17).lognormal(0.0, 0.7, 400)
    m = _moments(x)
    assert m.mean == pytest.approx(x.mean(), rel=1e-12)
    assert m.sd == pytest.approx(x.std(ddof=1), rel=1e-9)
    assert m.skewness == pytest.approx(stats.skew(x, bias=True), rel=1e-8)
    # at mean 1e9 and sd 1 the third central moment is lost to rounding: taken as 0, not noise
    assert _moments(1e9 + np.random.default_rng(18).standard_normal(1000)).skewness == 0.0
    assert Moments.from_sums(total=6.0, total_sq=14.0, total_cube=None, n=3).skewness == 0.0


def test_skewed_mean_interval_is_t_without_skew_and_stretches_the_long_tail() -> None:
    symmetric = Moments(n=30, mean=2.0, sd=1.5, skewness=0.0)
    t_low, t_high = stats.t.interval(0.95, 29, loc=2.0, scale=1.5 / math.sqrt(30))
    assert skewed_mean_interval(symmetric) == pytest.approx((t_low, t_high), rel=1e-12)
    skewed = Moments(n=30, mean=2.0, sd=1.5, skewness=2.0)
    low, high = skewed_mean_interval(skewed)
    assert low == pytest.approx(t_low, rel=1e-12)  # the union keeps the t side where it is wider
    assert high - 2.0 > t_high - 2.0  # right skew: the upper side is longer
    # Hall's limit solves T(t) = −q with T(t) = t + a t²/3 + a² t³/27 + a/6, a = g₁/√n
    a, se, q = 2.0 / math.sqrt(30), 1.5 / math.sqrt(30), t_value(0.95, 29)
    t = (2.0 - high) / se
    assert t + a * t * t / 3 + a * a * t**3 / 27 + a / 6 == pytest.approx(-q, abs=1e-9)
    mirrored = skewed_mean_interval(Moments(n=30, mean=-2.0, sd=1.5, skewness=-2.0))
    assert mirrored == pytest.approx((-high, -low), rel=1e-12)


def test_logit_normal_is_symmetric_on_the_logit_and_degenerate_at_the_edges() -> None:
    low, high = logit_normal(value=0.8, se=0.05)
    centre = math.log(0.8 / 0.2)
    half = 1.959963984540054 * 0.05 / (0.8 * 0.2)
    assert (low, high) == pytest.approx(
        (1 / (1 + math.exp(-(centre - half))), 1 / (1 + math.exp(-(centre + half))))
    )
    assert logit_normal(value=1.0, se=0.1) == (1.0, 1.0)
    assert logit_normal(value=0.3, se=0.0) == (0.3, 0.3)
