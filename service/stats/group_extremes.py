"""Intervals for the range (max − min) and the min/max ratio of k group figures.

A disparity compares k groups through their extremes: D = max_g θ_g − min_g θ_g (θ a rate,
or a calibration-in-the-large) or R = min_g p_g / max_g p_g. Which groups hold the extremes
is read off the data, so the interval of that one pair is too optimistic: with 12 equal
groups of 50 rows and selection rates of 0.5, the plug-in max − min averages 0.22 while the
truth is 0. The construction below holds for the TRUE max − min whatever the data picked.

With α = 1 − confidence, (l_g, u_g) a group's two-sided limits at a stated level and
d̂_ab = θ̂_a − θ̂_b over ordered pairs a ≠ b of the k compared groups:

- upper bound U = max_ab d̂_ab + √((u_a − θ̂_a)² + (θ̂_b − l_b)²), the limits at level 1 − α
  (one-sided error α/2). The true extremes (a*, b*) are fixed by the population and U is at
  least their pair's upper limit, so P(U < D) ≤ α/2: taking the max over pairs only widens
  U, it needs no multiplicity correction.
- lower bound L = max(0, max_ab d̂_ab − √((θ̂_a − l_a)² + (u_b − θ̂_b)²)), the limits at level
  1 − α/(E − 1) (one-sided error α/(2(E − 1))) with E = F·k(k − 1) ordered pairs over the F
  families that share the bound (equalized odds: TPR and FPR, F = 2). L > D needs some
  pair's lower limit above its d_ab ≤ D (Bonferroni over the pairs). For the reverse of the
  true pair, lower_b*a* > D means upper_a*b* < −D ≤ D, an event already inside P(U < D):
  hence E − 1. In all, P(D ∉ [L, U]) ≤ α/2 + (E − 1) · α/(2(E − 1)) = α.

Each pair's limit is Newcombe's square-and-add (MOVER) combination of the two groups'
limits, which is Newcombe's hybrid score interval when the limits are Wilson's. With k = 2
(E − 1 = 1) both bounds use level 1 − α: the plain Newcombe interval of |θ_a − θ_b|.

The ratio R swaps the sides: its lower bound min_ab (Katz lower of p_a/p_b) needs only the
true pair (α/2), its upper bound min_ab (Katz upper) must hold for every pair (α/(2(E − 1))),
because R ≤ r_ab for all ordered pairs. Katz's interval of p_b/p_a is the inverse of that
of p_a/p_b, so the reverse-pair argument above holds as is.

Why pairs, not one simultaneous interval per group (Šidák over k, combined as
[max_g l_g − min_g u_g, max_g u_g − min_g l_g]): that adds two groups' half-widths where a
pair adds them in quadrature, ≈ 2·z_group·se against √2·z_pair·se. For k = 12 at 95 %,
z_group = 2.86 (Šidák over 12 two-sided intervals), z_pair = 3.55 on the lower side and 1.96
on the upper side: 5.7 se against 5.0 se below the estimate and 5.7 se against 2.8 se above
it. Measured at k = 12, 1,000 rows per group, rates 0.5: mean width 0.095 (served), 0.141
(per-group Šidák), 0.126 (the previous Bonferroni over unordered pairs at 1 − α/m for both
sides); ``python -m benchmarks.coverage.fairness_constructions`` prints the comparison.

Every function works on arrays whose last axis is the group (leading axes are independent
reports, e.g. simulated samples), with ``use`` marking the groups compared. Pure numpy/scipy.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ArrayLike = npt.ArrayLike


def critical_values(groups: ArrayLike, *, confidence: float, families: int = 1) -> tuple[float, FloatArray]:
    """(z of the single-pair side, z of the simultaneous side) for k compared groups.

    z_single = Φ⁻¹(1 − α/2); z_simultaneous = Φ⁻¹(1 − α/(2(E − 1))), E = families · k(k − 1)
    (at least 1). ``groups`` may be an array (one k per report); so is the second value.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    alpha = 1.0 - confidence
    k = np.asarray(groups, dtype=np.float64)
    events = np.maximum(families * k * (k - 1.0) - 1.0, 1.0)
    return float(ndtri(1.0 - alpha / 2.0)), np.asarray(ndtri(1.0 - alpha / (2.0 * events)))


def wilson_limits(successes: ArrayLike, trials: ArrayLike, z: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Wilson score limits of x/n, elementwise (same formula as ``intervals.wilson``).

    centre = (x + z²/2) / (n + z²);  half = z / (n + z²) · √(x(n − x)/n + z²/4); the limit is
    exactly 0 at x = 0 and 1 at x = n. Entries with n = 0 return (0, 1).
    """
    x = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    zz = np.asarray(z, dtype=np.float64)
    z2 = zz * zz
    safe = np.maximum(n, 1.0)
    centre = (x + z2 / 2.0) / (safe + z2)
    half = zz / (safe + z2) * np.sqrt(np.maximum(x * (safe - x), 0.0) / safe + z2 / 4.0)
    low = np.where(x <= 0.0, 0.0, np.maximum(0.0, centre - half))
    high = np.where(x >= n, 1.0, np.minimum(1.0, centre + half))
    return low, high


def _pairwise(values: FloatArray) -> FloatArray:
    """Flatten the (..., k, k) pair axes to (..., k²) with NaN on the diagonal (a = b is no pair)."""
    k = values.shape[-1]
    diagonal = np.where(np.eye(k, dtype=bool), np.nan, 0.0)
    return (values + diagonal).reshape(*values.shape[:-2], k * k)


def range_bounds(
    estimate: FloatArray,
    simultaneous: tuple[FloatArray, FloatArray],
    single: tuple[FloatArray, FloatArray],
    use: BoolArray,
) -> tuple[FloatArray, FloatArray]:
    """(L, U) for max − min over the groups in ``use`` (module doc), reduced over the last axis.

    ``simultaneous`` / ``single``: each group's (low, high) limits at the simultaneous and the
    single-pair level. Reports with fewer than two groups get (NaN, NaN). Groups out of
    ``use`` become NaN, which ``fmax`` skips, so a pair with one of them never counts.
    """
    out = np.where(use, 0.0, np.nan)
    est = estimate + out
    a, b = est[..., :, None], est[..., None, :]
    low_s, high_s = (v + out for v in simultaneous)
    low_1, high_1 = (v + out for v in single)
    below_a, above_b = (a - low_s[..., :, None]) ** 2, (high_s[..., None, :] - b) ** 2
    above_a, below_b = (high_1[..., :, None] - a) ** 2, (b - low_1[..., None, :]) ** 2
    low = np.fmax.reduce(_pairwise(a - b - np.sqrt(below_a + above_b)), axis=-1)
    high = np.fmax.reduce(_pairwise(a - b + np.sqrt(above_a + below_b)), axis=-1)
    return np.maximum(low, 0.0), high


def ratio_bounds(
    successes: ArrayLike, trials: ArrayLike, use: BoolArray, *, z_single: float, z_simultaneous: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """(L, U) for min_g p_g / max_g p_g from Katz log intervals of every ordered pair.

    Pair (a, b): log(p̂_a / p̂_b) ± z √(1/x_a − 1/n_a + 1/x_b − 1/n_b), every x and n + ½ when
    x_a or x_b is 0 (as ``intervals.katz_ratio``). L = min_ab lower at z_single, U = min(1,
    min_ab upper at z_simultaneous). Reports with fewer than two groups get (NaN, NaN).
    """
    x = np.where(use, np.asarray(successes, dtype=np.float64), 1.0)
    n = np.where(use, np.asarray(trials, dtype=np.float64), 2.0)
    x_a, x_b = x[..., :, None], x[..., None, :]
    adjust = np.where((x_a == 0.0) | (x_b == 0.0), 0.5, 0.0)
    x_a, x_b = x_a + adjust, x_b + adjust
    n_a, n_b = n[..., :, None] + adjust, n[..., None, :] + adjust
    out = np.where(use, 0.0, np.nan)
    log_r = np.log(x_a / n_a) - np.log(x_b / n_b) + out[..., :, None] + out[..., None, :]
    se = np.sqrt(np.maximum(1.0 / x_a - 1.0 / n_a + 1.0 / x_b - 1.0 / n_b, 0.0))
    z_sim = np.asarray(z_simultaneous, dtype=np.float64)[..., None, None]
    low = np.fmin.reduce(_pairwise(np.exp(log_r - z_single * se)), axis=-1)
    high = np.fmin.reduce(_pairwise(np.exp(log_r + z_sim * se)), axis=-1)
    return low, np.minimum(high, 1.0)


def difference_bounds(
    successes: ArrayLike, trials: ArrayLike, use: BoolArray, *, confidence: float, families: int = 1
) -> tuple[FloatArray, FloatArray]:
    """Bounds on max − min of x_g/n_g over the groups in ``use`` (last axis), any leading shape.

    Wilson limits per group at the single-pair and the simultaneous level of
    ``critical_values`` (k = groups in ``use``), combined pairwise as Newcombe's
    hybrid score interval by ``range_bounds``.
    """
    x, n = np.asarray(successes, dtype=np.float64), np.asarray(trials, dtype=np.float64)
    z_one, z_sim = critical_values(use.sum(axis=-1), confidence=confidence, families=families)
    estimate = x / np.maximum(n, 1.0)
    simultaneous = wilson_limits(x, n, z_sim[..., None])
    return range_bounds(estimate, simultaneous, wilson_limits(x, n, z_one), use)


def ratio_interval(
    successes: ArrayLike, trials: ArrayLike, use: BoolArray, *, confidence: float
) -> tuple[FloatArray, FloatArray]:
    """Bounds on min_g p_g / max_g p_g over the groups in ``use`` (Katz pairs, ``ratio_bounds``).

    Widened to hold the plug-in ratio: Katz's ½ correction puts the lower bound above 0 when a
    group has no selections (ratio 0), e.g. [0.001, 0.58] around 0. Where no group in ``use``
    has a selection (0/0) the bounds are NaN: the caller reports insufficient_data.
    """
    x, n = np.asarray(successes, dtype=np.float64), np.asarray(trials, dtype=np.float64)
    z_one, z_sim = critical_values(use.sum(axis=-1), confidence=confidence)
    low, high = ratio_bounds(x, n, use, z_single=z_one, z_simultaneous=z_sim)
    rate = x / np.maximum(n, 1.0)
    top = np.max(np.where(use, rate, 0.0), axis=-1)
    bottom = np.min(np.where(use, rate, np.inf), axis=-1)
    value = np.where(top > 0.0, bottom / np.where(top > 0.0, top, 1.0), np.nan)
    return np.minimum(low, value), np.maximum(high, value)
