"""Confidence intervals and the result value shared by the outcome metrics.

Every interval here is two-sided at level ``confidence`` (default 0.95) and uses the
normal quantile z = Φ⁻¹(1 − α/2) (1.95996 for 95 %). Methods, with why they were chosen:

- **Wilson score** for a proportion x/n: keeps its nominal coverage near 0 and 1 and at
  n ≈ 30, where the Wald interval p ± z√(p(1−p)/n) collapses to a point at p = 0.
- **Newcombe hybrid score** (his method 10, 1998) for a difference of two independent
  proportions p₁ − p₂: built from the two Wilson intervals; coverage ≈ 95 % even with a
  handful of events, where the Wald difference interval undercovers.
- **Katz log** for a ratio of two independent proportions p₁ / p₂: normal on log(p₁/p₂)
  with variance 1/x₁ − 1/n₁ + 1/x₂ − 1/n₂; when a numerator is 0 we add ½ to every x
  and n (the "log-adjusted" variant), otherwise the log is −∞.
- **Hanley–McNeil (1982)** for ROC AUC, from the AUC and the two class sizes.
- **Newcombe (2006) method 5** for ROC AUC: the Hanley–McNeil variance with both class
  sizes replaced by N* = (n₊ + n₋)/2 − 1, inverted as a score interval (never degenerate at
  an AUC of 0 or 1, where DeLong's estimated variance is 0).
- **Logit normal** for a figure in (0, 1) with a known standard error (DeLong's AUC).
- **Normal approximation** for a mean, from the sample mean and variance (ddof = 1).
- **Skew-corrected t** for a mean of a skewed variable (errors, log loss): the union of the
  Student t interval and Hall's (1992) cubic transformation of the studentised mean, which
  removes the first-order skewness term; from Σx, Σx², Σx³.

Pure: numpy/scipy/stdlib only; no state, no clock.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from scipy import special as _special

Status = Literal["ok", "insufficient_data"]
Interval = tuple[float, float]


@dataclass(frozen=True, slots=True)
class MetricValue:
    """One figure with its sample size and interval, safe to serve as JSON.

    ``value``, ``ci_low`` and ``ci_high`` are None (never NaN, never 0) when ``status`` is
    ``insufficient_data``; ``ci_low``/``ci_high`` are also None when ``method`` is
    ``"none"`` (no interval can be derived from the stored aggregates). ``n`` is the
    denominator the figure was computed on (e.g. the actual positives for recall).
    """

    metric: str
    value: float | None
    n: int
    ci_low: float | None
    ci_high: float | None
    status: Status
    method: str

    @classmethod
    def insufficient(cls, metric: str, *, n: int, method: str) -> MetricValue:
        return cls(metric, None, int(n), None, None, "insufficient_data", method)

    @classmethod
    def ok(cls, metric: str, *, value: float, n: int, interval: Interval | None, method: str) -> MetricValue:
        low, high = (None, None) if interval is None else (float(interval[0]), float(interval[1]))
        return cls(metric, float(value), int(n), low, high, "ok", "none" if interval is None else method)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@functools.lru_cache(maxsize=64)
def z_value(confidence: float) -> float:
    """Two-sided normal quantile: z = Φ⁻¹(1 − (1 − confidence)/2).

    Cached: a fairness report asks for it ~700 times and each ``norm.ppf`` call costs
    ~0.1 ms of scipy argument checking, 90% of the report's time before caching.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return float(_special.ndtri(0.5 + confidence / 2.0))


@functools.lru_cache(maxsize=4096)
def t_value(confidence: float, df: int) -> float:
    """Two-sided Student t quantile t_{df}(1 − (1 − confidence)/2); the normal's beyond 10⁶ df."""
    if df >= 1_000_000:
        return z_value(confidence)
    z_value(confidence)  # validates confidence
    return float(_special.stdtrit(max(int(df), 1), 0.5 + confidence / 2.0))


def wilson(*, successes: int, trials: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for successes/trials.

    centre = (x + z²/2) / (n + z²);  half = z / (n + z²) · √(x(n − x)/n + z²/4).
    """
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0, got {successes}/{trials}")
    z = z_value(confidence)
    x, n = float(successes), float(trials)
    centre = (x + z * z / 2.0) / (n + z * z)
    half = z / (n + z * z) * math.sqrt(x * (n - x) / n + z * z / 4.0)
    # at x = 0 (x = n) the limit is exactly 0 (1); the subtraction leaves ~1e-19 of rounding
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    return low, 1.0 if successes == trials else min(1.0, centre + half)


def newcombe_difference(
    *, successes_a: int, trials_a: int, successes_b: int, trials_b: int, confidence: float = 0.95
) -> Interval:
    """Newcombe hybrid score interval for p_a − p_b (independent samples).

    With Wilson limits (l_a, u_a), (l_b, u_b) and d = p_a − p_b:
    low = d − √((p_a − l_a)² + (u_b − p_b)²),  high = d + √((u_a − p_a)² + (p_b − l_b)²).
    """
    p_a, p_b = successes_a / trials_a, successes_b / trials_b
    l_a, u_a = wilson(successes=successes_a, trials=trials_a, confidence=confidence)
    l_b, u_b = wilson(successes=successes_b, trials=trials_b, confidence=confidence)
    d = p_a - p_b
    low = d - math.hypot(p_a - l_a, u_b - p_b)
    high = d + math.hypot(u_a - p_a, p_b - l_b)
    return max(-1.0, low), min(1.0, high)


def katz_ratio(
    *, successes_a: int, trials_a: int, successes_b: int, trials_b: int, confidence: float = 0.95
) -> Interval:
    """Katz log interval for the ratio (x_a/n_a) / (x_b/n_b).

    log r ± z √(1/x_a − 1/n_a + 1/x_b − 1/n_b); if x_a or x_b is 0, every x and every n
    gets +½ first, so both logs are finite.
    """
    x_a, n_a, x_b, n_b = float(successes_a), float(trials_a), float(successes_b), float(trials_b)
    if x_a == 0 or x_b == 0:
        x_a, x_b, n_a, n_b = x_a + 0.5, x_b + 0.5, n_a + 0.5, n_b + 0.5
    log_r = math.log((x_a / n_a) / (x_b / n_b))
    se = math.sqrt(max(0.0, 1 / x_a - 1 / n_a + 1 / x_b - 1 / n_b))
    z = z_value(confidence)
    return math.exp(log_r - z * se), math.exp(log_r + z * se)


def hanley_mcneil(*, auc: float, n_positive: float, n_negative: float, confidence: float = 0.95) -> Interval:
    """Hanley–McNeil (1982) normal interval for ROC AUC A, clipped to [0, 1].

    Q₁ = A/(2 − A), Q₂ = 2A²/(1 + A);
    Var = [A(1−A) + (n₊ − 1)(Q₁ − A²) + (n₋ − 1)(Q₂ − A²)] / (n₊ n₋).
    Class sizes may be fractional (expected counts, for estimated performance).
    """
    q1, q2 = auc / (2.0 - auc), 2.0 * auc * auc / (1.0 + auc)
    var = (auc * (1 - auc) + (n_positive - 1) * (q1 - auc**2) + (n_negative - 1) * (q2 - auc**2)) / (
        n_positive * n_negative
    )
    half = z_value(confidence) * math.sqrt(max(0.0, var))
    return max(0.0, auc - half), min(1.0, auc + half)


def logit_interval(*, value: float, n: float, confidence: float = 0.95) -> Interval:
    """Logit interval for a figure θ in (0, 1) with binomial-like variance θ(1−θ)/n.

    logit θ ± z / √(n θ (1 − θ)), mapped back; used for PR AUC (average precision) with
    n = number of positives, following Boyd, Eng & Page (2013). θ of exactly 0 or 1
    returns the degenerate interval (θ, θ).
    """
    if value <= 0.0 or value >= 1.0 or n <= 0:
        return value, value
    centre = math.log(value / (1.0 - value))
    half = z_value(confidence) / math.sqrt(n * value * (1.0 - value))
    return 1.0 / (1.0 + math.exp(-(centre - half))), 1.0 / (1.0 + math.exp(-(centre + half)))


def normal_mean(*, mean: float, variance: float, n: int, confidence: float = 0.95) -> Interval:
    """mean ± z √(variance / n), the large-sample interval for a mean (variance ddof = 1)."""
    half = z_value(confidence) * math.sqrt(max(0.0, variance) / n)
    return mean - half, mean + half


def sample_variance(*, total: float, total_sq: float, n: int) -> float:
    """Unbiased variance from Σx and Σx²: (Σx² − (Σx)²/n) / (n − 1), floored at 0.

    The floor absorbs cancellation: for values near 1e6 with spread 1 the two terms agree
    to ~12 digits, and rounding may leave a tiny negative.
    """
    if n < 2:
        return 0.0
    return max(0.0, (total_sq - total * total / n) / (n - 1))


def logit_normal(*, value: float, se: float, confidence: float = 0.95) -> Interval:
    """logit θ ± z·se/(θ(1 − θ)) mapped back (delta method on the logit); (θ, θ) when θ is 0
    or 1 or se is 0, so callers that need an interval there combine it with a score interval."""
    if not 0.0 < value < 1.0 or se <= 0.0:
        return value, value
    centre = math.log(value / (1.0 - value))
    half = z_value(confidence) * se / (value * (1.0 - value))
    return float(_special.expit(centre - half)), float(_special.expit(centre + half))  # no exp overflow


def newcombe_auc(*, auc: float, n_positive: float, n_negative: float, confidence: float = 0.95) -> Interval:
    """Newcombe's (2006) method 5 for ROC AUC: all θ with (Â − θ)² ≤ z² V(θ), where

    V(θ) = θ(1 − θ)[1 + N*(1 − θ)/(2 − θ) + N*·θ/(1 + θ)] / (n₊ n₋),  N* = (n₊ + n₋)/2 − 1

    (Hanley–McNeil's variance at θ, with both class sizes replaced by N*). Each limit is the
    root of the quadratic-minus-quartic on its side of Â, found by bisection to 1e-12.
    """
    z2 = z_value(confidence) ** 2
    n_star = max((n_positive + n_negative) / 2.0 - 1.0, 0.0)

    def excess(theta: float) -> float:
        spread = 1.0 + n_star * (1.0 - theta) / (2.0 - theta) + n_star * theta / (1.0 + theta)
        return (auc - theta) ** 2 - z2 * theta * (1.0 - theta) * spread / (n_positive * n_negative)

    return _bisect(excess, 0.0, auc), _bisect(excess, 1.0, auc)


def _bisect(excess: Callable[[float], float], outside: float, inside: float) -> float:
    """The root of ``excess`` between ``outside`` (excess ≥ 0) and ``inside`` (excess ≤ 0)."""
    if excess(outside) <= 0.0:
        return outside
    for _ in range(45):  # |outside − inside| ≤ 1 halves to < 3e-14
        middle = (outside + inside) / 2.0
        if excess(middle) > 0.0:
            outside = middle
        else:
            inside = middle
    return inside


@dataclass(frozen=True, slots=True)
class Moments:
    """Sample mean, standard deviation (ddof = 1) and skewness g₁ = m₃/m₂^{3/2} of n values."""

    n: int
    mean: float
    sd: float
    skewness: float

    @classmethod
    def from_sums(cls, *, total: float, total_sq: float, total_cube: float | None, n: int) -> Moments:
        """From Σx, Σx², Σx³ (None: skewness unknown, taken as 0). The central third moment
        m₃ = Σx³/n − 3x̄Σx²/n + 2x̄³ cancels when |x̄| ≫ sd; a skewness lost in that rounding
        (|m₃| below 1e-12 of its largest term) is taken as 0, and |g₁| is capped at its
        sample maximum (n − 2)/√(n − 1)."""
        mean = total / n
        sd = math.sqrt(sample_variance(total=total, total_sq=total_sq, n=n))
        if total_cube is None:
            return cls(n, mean, sd, 0.0)
        m2 = max(total_sq / n - mean * mean, 0.0)
        terms = (total_cube / n, 3.0 * mean * total_sq / n, 2.0 * mean**3)
        m3 = terms[0] - terms[1] + terms[2]
        skew = 0.0
        if m2 > 0.0 and n > 2 and abs(m3) > 1e-12 * max(abs(t) for t in terms):
            cap = (n - 2) / math.sqrt(n - 1)
            skew = max(-cap, min(cap, m3 / m2**1.5))
        return cls(n, mean, sd, skew if math.isfinite(skew) else 0.0)


def skewed_mean_interval(moments: Moments, *, confidence: float = 0.95) -> Interval:
    """Union of the t interval x̄ ± t·s/√n and Hall's (1992) transformation interval.

    Hall: with a = g₁/√n, T(t) = t + a t²/3 + a² t³/27 + a/6 = ((1 + a t/3)³ − 1)/a + a/6 is
    increasing, and T((x̄ − μ)√n/s) is close to symmetric; the limits are x̄ − T⁻¹(±q)·s/√n,
    T⁻¹(w) = 3(∛(1 + a(w − a/6)) − 1)/a, q = t_{n−1} quantile. Right-skewed data (a > 0)
    lengthen the upper side. The union keeps the t interval where g₁ is noise (symmetric
    laws, where Hall alone undercovers at n = 30, e.g. for Laplace errors).
    """
    n, mean = moments.n, moments.mean
    q = t_value(confidence, n - 1)
    se = moments.sd / math.sqrt(n)
    low, high = mean - q * se, mean + q * se
    a = moments.skewness / math.sqrt(n)
    if abs(a) < 1e-12 or se == 0.0:
        return low, high

    def inverse(w: float) -> float:
        return 3.0 * (math.cbrt(1.0 + a * (w - a / 6.0)) - 1.0) / a

    return min(low, mean - inverse(q) * se), max(high, mean - inverse(-q) * se)
