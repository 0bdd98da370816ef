"""Standard errors of the drift effect sizes, from what a profile stores.

The drift decision asks for evidence that the TRUE effect exceeds its threshold: the lower
limit L = effect − z·se must reach it, z at the family's level (z ≥ z₀ = Φ⁻¹(0.975) = 1.96,
one column at two-sided 0.95). ``se`` is in the effect's own units and has two parts: the
linearised (delta-method) standard error, and an allowance for the effect's upward bias
from noise divided by z₀, so that L ≤ (effect − bias bound) − z·(linear se) for every z ≥ z₀.
Both effects are biased upwards by noise (a distance is never negative): at 200 rows a side
the normed Wasserstein between two draws of one normal law averages 0.12, and the JS
distance of a 20-level column 0.16, above the 0.1 thresholds. The linear se alone lets
such noise through: on quiet 200 / 200 columns L ≥ 0.1 in 3 (normal) and 9 (t₃) of 400
draws; with the allowances, in none of 2,000 (benchmarks/coverage/drift.py).

**Normed Wasserstein** e = W / σ_ref, W = ∫|D|, D = F_ref − F_win. Where D keeps its sign
s = sign D, W is smooth and δW = ∫ s δD: with h(t) = ∫_{x ≥ t} s(x) dx (1-Lipschitz), one
reference value x moves W by (h(x) − E h)/n and one window value y by −(h(y) − E h)/m.
σ_ref is estimated from the same reference, so its uncertainty is included: σ̂² moves by
((x − μ)² − σ²)/n, and the reference influence on e is

    a(x) = h(x)/σ − e (x − μ)² / (2σ²),        Var ê ≈ Var a(X)/n + Var h(Y)/(σ² m).

(When σ is below the 0.001 floor the norm is the fixed floor and the second term drops.)
For a lognormal(0, 1) reference at 20,000 rows the σ term is twice the W term at e = 0.5.
From bins: s is the sign of the bin's exact signed integral of D, h is linear inside a bin
(slope −s), so E[h | bin] = h(bin mean) exactly, and the between-bin variance comes from
the bin means. Within a bin the spread of a value is unknown; a(·) is Lipschitz there with
constant |s|/σ + e·max(|a_i − μ|, |b_i − μ|)/σ², and a value's within-bin variance is at
most (m_i − a_i)(b_i − m_i) (Bhatia–Davis, m_i the bin mean), while the sum over bins of
the within-bin variances is known exactly from the profile's Σ(x − c)² (total variance
minus the variance of the bin means). The within term is the largest Σ_i p_i v_i L_i²
those two constraints allow (fill the steepest bins first): conservative in the edge
bins stretched to the observed extremes, where it matters, and exact when a(·) is linear.
Discrete columns use the same formulas on their cells (below, each value, above).

Bias: at each x, D̂(x) ≈ N(D(x), v(x)), v = F(1 − F)/n + G(1 − G)/m, and E|D̂| − |D| is
largest at D = 0, where it is √(2v/π); so E Ŵ − W ≤ √(2/π) ∫ √v whatever the change
(``noise_bias``; 1.29 √(1/n + 1/m) σ for a normal law, i.e. the whole of Ŵ's mean under
no change). Where the sign of D is noise (D ≈ 0) the linearisation fails and this bound is
what keeps L honest; where D is far from 0 it costs power (about 0.013 of e at 20,000 rows
a side). An allowance that fades where |D̂| is large (the bias at |D̂| − z₀√v) was tried:
1 of 300 quiet 200 / 200 flags reached L ≥ 0.1 (one se of W/σ there is the threshold
itself), 1 of 2,000 with the full bound.

**Jensen–Shannon distance** JS = √JSD on the category shares p (reference, n rows) and q
(window, m rows), m_i = (p_i + q_i)/2. Delta method: ∂JSD/∂p_i = ½ ln(p_i/m_i),
∂JSD/∂q_i = ½ ln(q_i/m_i), multinomial covariance on each side:

    Var JSD ≈ Var_p(½ ln(p/m))/n + Var_q(½ ln(q/m))/m.

Near JS = 0 the gradient vanishes with the difference, JSD̂ is dominated by its
second-order bias ½ tr(H Σ) = Σ_i (1 − p_i)(½ − p_i/(4m_i))/(2n) + (the same for q over m),
(k − 1)(1/n + 1/m)/8 under no change, and √ turns a small JSD noise into a large JS one.
So the limit is taken on the JSD scale, less the largest that bias can be, b =
(k − 1)(1/n + 1/m)/4 (each cell's term is at most (1 − p_i)/(4n)), and stated as an se on
the JS scale:

    L₀ = √max(JSD̂ − b − z₀·se(JSD̂), 0),     se(JS) = (JŜ − L₀)/z₀,

so that JŜ − z₀·se(JS) = L₀. Far from 0 this is the delta method se(JSD)/(2 JS) plus
b/(2 JS z₀) → 0. With the plug-in bias instead of b, 5 of 4,000 quiet 200 / 200 draws of
a 20-level column reached L ≥ 0.1 (with b: none of 2,000).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

from service.stats.summaries import NumericSummary

FloatArray = npt.NDArray[np.float64]
Counts = Sequence[int] | npt.NDArray[np.int64]

# The decision's one-sided level at the smallest family (one column, two-sided 0.95).
Z_REFERENCE = float(special.ndtri(0.975))


@dataclass(frozen=True, slots=True)
class BinnedSide:
    """One side of a column as bins: ``counts``, per-bin value ``sums`` (column units),
    population ``mean`` and ``variance`` of all its values."""

    counts: FloatArray
    sums: FloatArray
    mean: float
    variance: float

    @property
    def n(self) -> float:
        return float(self.counts.sum())

    def mean_levels(self, edges: FloatArray) -> FloatArray:
        """F̄_i = (1/w_i) ∫_bin F dx, exact from counts and sums: each value x in [a, b]
        adds (b − x)/n to the integral (0 for a bin of width 0)."""
        width = np.diff(edges)
        shares = self.counts / self.n
        start = np.cumsum(shares) - shares
        area = start * width + shares * edges[1:] - self.sums / self.n
        safe = np.where(width > 0, width, 1.0)
        out: FloatArray = np.clip(np.where(width > 0, area / safe, start + shares), 0.0, 1.0)
        return out


def side_of(summary: NumericSummary, anchors: FloatArray | None = None) -> BinnedSide | None:
    """A profile's bins as a ``BinnedSide`` (discrete cells: pass their ``anchors``, the sums
    being excesses over them); None without values or with lost sums."""
    mean, variance = summary.mean, summary.variance
    if mean is None or variance is None or not summary.count:
        return None
    counts = np.asarray(summary.bins, dtype=np.float64)
    sums = np.asarray(summary.bin_sums, dtype=np.float64)
    return BinnedSide(counts, sums if anchors is None else sums + anchors * counts, mean, variance)


def _bin_means(edges: FloatArray, side: BinnedSide) -> FloatArray:
    """Value mean per bin, clipped into the bin (rounding); the midpoint where empty."""
    low, high = edges[:-1], edges[1:]
    safe = np.where(side.counts > 0, side.counts, 1.0)
    means = np.where(side.counts > 0, side.sums / safe, (low + high) / 2.0)
    clipped: FloatArray = np.clip(means, low, high)
    return clipped


def _within_total(side: BinnedSide, means: FloatArray) -> float:
    """Σ_i p_i Var(X | bin i): total variance minus the variance of the bin means (≥ 0)."""
    shares = side.counts / side.n
    between = float(np.sum(shares * (means - side.mean) ** 2))
    return max(side.variance - between, 0.0)


def _influence_variance(
    values: FloatArray, shares: FloatArray, lipschitz: FloatArray, capacity: FloatArray, within: float
) -> float:
    """Var of an influence a(X) given its value at each bin mean (``values``) and, within bin
    i, a Lipschitz constant ``lipschitz``, a variance cap ``capacity`` and a total ``within``:
    between-bin variance plus the largest Σ p_i v_i L_i² with v_i ≤ cap_i, Σ p_i v_i ≤ within."""
    centre = float(np.sum(shares * values))
    between = float(np.sum(shares * (values - centre) ** 2))
    order = np.argsort(-lipschitz)
    room = (shares * capacity)[order]
    used = np.clip(within - (np.cumsum(room) - room), 0.0, room)
    return between + float(np.sum(used * lipschitz[order] ** 2))


def noise_bias(edges: FloatArray, reference: BinnedSide, window: BinnedSide) -> float:
    """√(2/π) Σ_i w_i √(F̄_i(1 − F̄_i)/n + Ḡ_i(1 − Ḡ_i)/m) (column units): a bound on E Ŵ − W.

    At each x, D̂(x) ≈ N(D(x), v(x)) with v = F(1 − F)/n + G(1 − G)/m, and E|D̂| − |D| is
    largest at D = 0, where it is √(2v/π); so E Ŵ − W ≤ √(2/π) ∫ √v, whatever the change.
    √v is concave in (F, G), so over a bin ∫ √v ≤ w √v(F̄, Ḡ) (Jensen) with the bin-average
    levels F̄, Ḡ, which the sums give exactly (wide edge bins included).
    """
    width = np.diff(edges)
    f, g = reference.mean_levels(edges), window.mean_levels(edges)
    v = f * (1.0 - f) / reference.n + g * (1.0 - g) / window.n
    return math.sqrt(2.0 / math.pi) * float(np.sum(width * np.sqrt(np.maximum(v, 0.0))))


def influence_se(
    edges: FloatArray,
    integrals: FloatArray,
    reference: BinnedSide,
    window: BinnedSide,
    *,
    effect: float,
    norm: float,
) -> float:
    """√(Var a(X)/n + Var h(Y)/(norm² m)): the linearised standard error of ê = W / norm."""
    low, high = edges[:-1], edges[1:]
    signs = np.sign(integrals)
    after = np.concatenate([np.cumsum((signs * (high - low))[::-1])[::-1][1:], [0.0]])
    sigma = math.sqrt(reference.variance)
    scaled = sigma >= norm > 0.0  # σ estimated, not the floor
    total = 0.0
    for side, is_reference in ((reference, True), (window, False)):
        means = _bin_means(edges, side)
        h = (after + signs * (high - means)) / norm
        slope = np.abs(signs) / norm
        if is_reference and scaled:
            h = h - effect * (means - side.mean) ** 2 / (2.0 * sigma**2)
            reach = np.maximum(np.abs(low - side.mean), np.abs(high - side.mean))
            slope = slope + effect * reach / sigma**2
        capacity = np.maximum((means - low) * (high - means), 0.0)
        shares = side.counts / side.n
        total += _influence_variance(h, shares, slope, capacity, _within_total(side, means)) / side.n
    return math.sqrt(total)


def wasserstein_se(
    edges: FloatArray,
    integrals: FloatArray,
    reference: BinnedSide | None,
    window: BinnedSide | None,
    *,
    effect: float,
    norm: float,
) -> float | None:
    """se of ê = W / norm: ``influence_se`` + ``noise_bias`` / (norm z₀) (module docstring).

    ``edges`` span both samples; ``integrals`` are the exact signed ∫_bin (F_ref − F_win) dx;
    ``norm`` = max(σ_ref, floor), σ_ref = √``reference.variance``, whose uncertainty is
    included unless it is floored. None without values on a side.
    """
    if reference is None or window is None or min(reference.n, window.n) <= 0 or not math.isfinite(effect):
        return None
    spread = influence_se(edges, integrals, reference, window, effect=effect, norm=norm)
    out = spread + noise_bias(edges, reference, window) / (norm * Z_REFERENCE)
    return out if math.isfinite(out) else None


def _gradient_variance(shares: FloatArray, mix: FloatArray) -> float:
    """Var over the multinomial cells of ½ ln(share / mix) (cells with share 0 weigh 0)."""
    used = shares > 0
    g = 0.5 * np.log(shares[used] / mix[used])
    w = shares[used]
    centre = float(np.sum(w * g))
    return float(np.sum(w * (g - centre) ** 2))


def jsd_bias_bound(reference: FloatArray, window: FloatArray) -> float:
    """(k − 1)(1/n + 1/m)/4 over the k cells non-empty on either side: the largest value of the
    second-order bias ½ tr(H Σ) = Σ_i (1 − p_i)(½ − p_i/(4 m_i))/(2n) + (same for q over m),
    each term being at most (1 − p_i)/(4n), reached where the other side holds the cell alone."""
    cells = int(np.count_nonzero((reference + window) > 0))
    return max(cells - 1, 0) * (1.0 / float(reference.sum()) + 1.0 / float(window.sum())) / 4.0


def js_se(reference: Counts, window: Counts, *, z: float = Z_REFERENCE) -> float | None:
    """se of the Jensen–Shannon distance (natural log) such that JŜ − z·se is the JSD-scale
    lower limit √max(JSD̂ − b − z·se(JSD̂), 0) (module docstring); None when a side is empty."""
    r, w = np.asarray(reference, dtype=np.float64), np.asarray(window, dtype=np.float64)
    n, m = float(r.sum()), float(w.sum())
    if n <= 0 or m <= 0:
        return None
    jsd, spread = jsd_linear(r, w)
    lower = math.sqrt(max(jsd - jsd_bias_bound(r, w) - z * spread, 0.0))
    return (math.sqrt(jsd) - lower) / z


def jsd_linear(reference: FloatArray, window: FloatArray) -> tuple[float, float]:
    """(JSD̂, its delta-method standard error) from two non-empty count vectors."""
    n, m = float(reference.sum()), float(window.sum())
    p, q = reference / n, window / m
    mix = (p + q) / 2.0
    jsd = max(0.5 * _kl(p, mix) + 0.5 * _kl(q, mix), 0.0)
    return jsd, math.sqrt(_gradient_variance(p, mix) / n + _gradient_variance(q, mix) / m)


def _kl(shares: FloatArray, mix: FloatArray) -> float:
    used = shares > 0
    return float(np.sum(shares[used] * np.log(shares[used] / mix[used])))
