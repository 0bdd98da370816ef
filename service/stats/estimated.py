"""Binary performance estimated without labels (confidence-based, in the manner of NannyML's CBPE).

1. **Calibrate** on the reference's labelled score histogram: the positive rate of each bin,
   pos_b / (pos_b + neg_b), made non-decreasing in the score by pooled-adjacent-violators
   weighted by the bin's labelled rows (isotonic regression over bins). A bin without
   labelled reference rows takes the value of its nearest supported neighbour to the
   left (to the right for leading bins), which keeps the map monotone.
2. **Estimate** the window's confusion matrix from its score histogram over all rows
   (positive + negative + unlabelled), m_b rows in bin b with calibrated c_b; rows in bins
   at or above the threshold edge t are predicted positive:
   E[TP] = X = Σ_{b≥t} m_b c_b, E[FN] = Y = Σ_{b<t} m_b c_b, FP = M₊ − X, TN = M₋ − Y.
   accuracy = (X + M₋ − Y)/M, precision = X/M₊, recall = X/(X + Y),
   F1 = 2X/(X + Y + M₊), ROC AUC = binned AUC with masses m_b c_b and m_b (1 − c_b).

Assumption (as for CBPE): P(y | score) is the same in the window as in the reference;
a covariate shift that moves the scores is fine, a concept shift is not detectable here.

Intervals (normal, method ``cbpe_delta``) are for the **realised** metric the labels will
reveal, by the delta method through the expected positives per bin x_b = m_b c_b
(``_variance``): each row's label is Bernoulli(c_b), and each PAV block's rate c_B carries the
calibration error of its W_B labelled reference rows. ROC AUC goes through the same variance
with its gradient ∂AUC/∂x_b (``auc_gradient``) and is widened by the binning bound
½ Σ x_b(m_b − x_b)/(PN), since the realised AUC is of the unbinned scores. Hanley–McNeil on
the expected class sizes, used before, ignored the calibration error: it covered 0.40 at
100k window rows, where that error is nearly all of the uncertainty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from service.stats.aggregates import ScoreHistogram
from service.stats.intervals import MetricValue, z_value
from service.stats.ranking import auc_binning_bound, roc_auc_from_masses

FloatArray = npt.NDArray[np.float64]
MIN_N = 30
MIN_DENOMINATOR = 10
# 200 labelled reference rows over the usual 10–20 score bins is ~10–20 per bin: a bin
# rate then has a standard error near 0.1–0.15, already the largest term of the interval.
MIN_REFERENCE = 200


@dataclass(frozen=True, slots=True)
class Calibration:
    """Calibrated P(y=1 | score bin), monotone; ``block`` numbers the pooled PAV blocks,
    ``block_weight`` is the labelled reference rows behind each bin's block (0 if none), ``weight``
    those of the bin itself."""

    edges: tuple[float, ...]
    probability: tuple[float, ...]
    block: tuple[int, ...]
    block_weight: tuple[float, ...]
    supported: tuple[bool, ...]
    n: int
    weight: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class EstimatedPerformance:
    """Estimated figures for one window; ``unsupported_share`` is the window's share of rows in
    bins where the reference had no labelled rows (extrapolated calibration)."""

    n: int
    threshold: float
    expected_positives: float
    unsupported_share: float
    metrics: tuple[MetricValue, ...]

    def get(self, metric: str) -> MetricValue:
        return next(m for m in self.metrics if m.metric == metric)


def _pav(values: list[float], weights: list[float]) -> list[tuple[float, float, int]]:
    """Pooled-adjacent-violators: blocks (mean, weight, bins) with non-decreasing means."""
    blocks: list[tuple[float, float, int]] = []
    for v, w in zip(values, weights, strict=True):
        mean, weight, size = v, w, 1
        while blocks and blocks[-1][0] >= mean:
            m0, w0, s0 = blocks.pop()
            mean, weight, size = (m0 * w0 + mean * weight) / (w0 + weight), w0 + weight, s0 + size
        blocks.append((mean, weight, size))
    return blocks


def calibrate(reference: ScoreHistogram) -> Calibration:
    """Isotonic (PAV) per-bin positive rate of the reference's labelled rows.

    Adjacent bins with equal rates are pooled too (≥ in the violator test): the fit is the
    same, and the pooled weight is the honest sample size behind that rate.
    """
    pos = np.asarray(reference.positive, np.float64)
    weight = pos + np.asarray(reference.negative, np.float64)
    used = np.flatnonzero(weight > 0)
    prob, block, block_w = np.zeros(reference.bins), np.full(reference.bins, -1), np.zeros(reference.bins)
    start = 0
    for block_id, (mean, w, size) in enumerate(_pav(list(pos[used] / weight[used]), list(weight[used]))):
        idx = used[start : start + size]
        prob[idx], block[idx], block_w[idx] = mean, block_id, w
        start += size
    if used.size:
        _fill_unsupported(prob, block, block_w)
    return Calibration(
        reference.edges,
        tuple(float(p) for p in prob),
        tuple(int(b) for b in block),
        tuple(float(w) for w in block_w),
        tuple(bool(s) for s in weight > 0),
        int(weight.sum()),
        tuple(float(w) for w in weight),
    )


def _fill_unsupported(prob: FloatArray, block: npt.NDArray[np.int_], block_w: FloatArray) -> None:
    """Copy each empty bin's values from its left neighbour (right neighbour for leading bins)."""
    first = int(np.flatnonzero(block >= 0)[0])
    for i in range(prob.size):
        src = first if i < first else i - 1
        if block[i] < 0:
            prob[i], block[i], block_w[i] = prob[src], block[src], block_w[src]


def threshold_index(edges: tuple[float, ...], threshold: float) -> int:
    """Index of the edge equal to ``threshold`` (to 1e-12); the threshold must be an edge."""
    for i, e in enumerate(edges[:-1]):
        if abs(e - threshold) <= 1e-12:
            return i
    raise ValueError(f"threshold {threshold} is not one of the histogram's lower edges {edges[:-1]}")


@dataclass(frozen=True, slots=True)
class _Window:
    """The window's rows per bin and what the calibration expects of them."""

    mass: FloatArray  # m_b, rows per bin (labelled or not)
    expected: FloatArray  # x_b = m_b c_b, expected positives per bin
    is_pos: npt.NDArray[np.bool_]  # bin at or above the threshold edge (predicted positive)

    @property
    def x(self) -> float:  # expected TP
        return float(self.expected[self.is_pos].sum())

    @property
    def y(self) -> float:  # expected FN
        return float(self.expected[~self.is_pos].sum())

    @property
    def m_pos(self) -> float:
        return float(self.mass[self.is_pos].sum())

    @property
    def m_neg(self) -> float:
        return float(self.mass[~self.is_pos].sum())


def _window(cal: Calibration, window: ScoreHistogram, t: int) -> _Window:
    mass = (
        np.asarray(window.positive, np.float64)
        + np.asarray(window.negative, np.float64)
        + np.asarray(window.unlabelled, np.float64)
    )
    return _Window(mass, mass * np.asarray(cal.probability), np.arange(mass.size) >= t)


def _variance(cal: Calibration, win: _Window, grad: FloatArray, z: float) -> float:
    """Delta-method variance of a figure f(x) of the expected positives per bin, g_b = ∂f/∂x_b.

    Var = Σ_b g_b² m_b c̃_b(1 − c̃_b)  (each row's label is Bernoulli(c_b), given the scores)
        + Σ_P (Σ_{b∈P} m_b g_b)² c̃_P(1 − c̃_P)/(W_P + z²)  (calibration error),

    P running over the parts of the PAV blocks on either side of the threshold edge, W_P the
    labelled reference rows of the part and c̃_P its block's rate. A block that straddles the
    threshold estimates the rate of predicted positives partly from rows below the threshold;
    counting only the rows on each side keeps that pooled rate from looking more certain than
    the rows behind the figure (it mattered for rare-event precision and F1).
    c̃ = (c W + z²/2)/(W + z²) is the Agresti–Coull centre: a block of W reference rows without
    a positive (c = 0, common with 3 % positives) would otherwise claim zero variance; this
    gives it the rule-of-three width z·√(c̃/(W + z²)) ≈ 2.7/W.
    """
    block, rate = np.asarray(cal.block), np.asarray(cal.probability)
    weight, block_weight = np.asarray(cal.weight), np.asarray(cal.block_weight)
    shrunk = (rate * block_weight + z * z / 2.0) / (block_weight + z * z)
    spread = shrunk * (1.0 - shrunk)
    var = float(np.sum(grad**2 * win.mass * spread))
    part = np.where(block >= 0, 2 * block + win.is_pos, -1)  # block −1: no labelled reference row
    used = part >= 0
    ids, first = np.unique(part[used], return_index=True)
    per_part = np.bincount(part[used], weights=(win.mass * grad)[used])[ids]
    rows = np.bincount(part[used], weights=weight[used])[ids]
    rep = np.flatnonzero(used)[first]
    rows = np.where(rows > 0, rows, block_weight[rep])  # a part of unsupported bins only
    return var + float(np.sum(per_part**2 * spread[rep] / (rows + z * z)))


def _figure(name: str, value: float, var: float, n: float, ok: bool, z: float) -> MetricValue:
    if not ok:
        return MetricValue.insufficient(name, n=round(n), method="cbpe_delta")
    half = z * math.sqrt(max(0.0, var))
    ci = (max(0.0, value - half), min(1.0, value + half))
    return MetricValue.ok(name, value=value, n=round(n), interval=ci, method="cbpe_delta")


def _ratios(cal: Calibration, win: _Window, ok: bool, min_den: int, z: float) -> list[MetricValue]:
    x, y, mp, mn = win.x, win.y, win.m_pos, win.m_neg
    m, d_rec, d_f1 = mp + mn, x + y, x + y + mp
    min_den = max(min_den, 1)  # a ratio over 0 rows is never served, whatever the caller set
    specs = [  # name, value, ∂f/∂X, ∂f/∂Y, n, enough
        ("accuracy", (x + mn - y) / m, 1 / m, -1 / m, m, ok),
        ("precision", x / mp if mp else 0.0, 1 / mp if mp else 0.0, 0.0, mp, ok and mp >= min_den),
        (
            "recall",
            x / d_rec if d_rec else 0.0,
            y / d_rec**2 if d_rec else 0.0,
            -x / d_rec**2 if d_rec else 0.0,
            d_rec,
            ok and d_rec >= min_den,
        ),
        (
            "f1",
            2 * x / d_f1 if d_f1 else 0.0,
            2 * (y + mp) / d_f1**2 if d_f1 else 0.0,
            -2 * x / d_f1**2 if d_f1 else 0.0,
            d_f1 - x,
            ok and d_f1 - x >= min_den,
        ),
    ]
    return [
        _figure(name, v, _variance(cal, win, np.where(win.is_pos, fx, fy), z), n, enough, z)
        for name, v, fx, fy, n, enough in specs
    ]


def estimate_performance(
    *,
    calibration: Calibration,
    window: ScoreHistogram,
    threshold: float = 0.5,
    min_n: int = MIN_N,
    min_denominator: int = MIN_DENOMINATOR,
    min_reference: int = MIN_REFERENCE,
    confidence: float = 0.95,
) -> EstimatedPerformance:
    """Estimated accuracy, precision, recall, F1 and ROC AUC of a window from its scores alone.

    ``n`` of each figure is its (expected) denominator rounded to a row count: M for accuracy,
    M₊ for precision, E[positives] for recall, E[TP + FP + FN] for F1 and M for ROC AUC.
    """
    if window.edges != calibration.edges:
        raise ValueError("window and calibration use different score edges")
    t = threshold_index(window.edges, threshold)
    win = _window(calibration, window, t)
    total = win.m_pos + win.m_neg
    ok = total >= min_n and calibration.n >= max(min_reference, 1)
    z = z_value(confidence)
    names = ("accuracy", "precision", "recall", "f1")
    metrics = (
        _ratios(calibration, win, ok, min_denominator, z)
        if total > 0
        else [MetricValue.insufficient(m, n=0, method="cbpe_delta") for m in names]
    )
    metrics.append(_estimated_auc(calibration, win, ok, min_denominator, z))
    unsupported = float(win.mass[~np.asarray(calibration.supported)].sum() / total) if total else 0.0
    return EstimatedPerformance(round(total), threshold, win.x + win.y, unsupported, tuple(metrics))


def auc_gradient(positive: FloatArray, negative: FloatArray) -> FloatArray:
    """∂AUC/∂x_k of the binned AUC when one row of bin k turns from negative to positive.

    With U = Σᵢ xᵢ(Lᵢ + ½nᵢ), Lᵢ = Σ_{j<i} nⱼ, Hₖ = Σ_{i>k} xᵢ, AUC = U/(PN):
    ∂U/∂xₖ = Lₖ + ½nₖ − ½xₖ − Hₖ, ∂(PN)/∂xₖ = N − P, so ∂AUC/∂xₖ = (∂U/∂xₖ − AUC(N − P))/(PN).
    """
    pos, neg = np.asarray(positive, np.float64), np.asarray(negative, np.float64)
    n_pos, n_neg = float(pos.sum()), float(neg.sum())
    below, above = np.cumsum(neg) - neg, n_pos - np.cumsum(pos)
    auc = roc_auc_from_masses(pos, neg)
    grad: FloatArray = (below + 0.5 * neg - 0.5 * pos - above - auc * (n_neg - n_pos)) / (n_pos * n_neg)
    return grad


def _estimated_auc(cal: Calibration, win: _Window, ok: bool, min_den: int, z: float) -> MetricValue:
    """Binned AUC with masses x_b and m_b − x_b; interval for the window's realised (unbinned)
    AUC: ± z·√Var (``_variance`` with ``auc_gradient``) ± ``auc_binning_bound``."""
    pos, neg = win.expected, win.mass - win.expected
    n_pos, n_neg = float(pos.sum()), float(neg.sum())
    n = round(n_pos + n_neg)
    if not ok or min(n_pos, n_neg) < max(min_den, 1):
        return MetricValue.insufficient("roc_auc", n=n, method="cbpe_delta")
    auc = roc_auc_from_masses(pos, neg)
    half = z * math.sqrt(max(0.0, _variance(cal, win, auc_gradient(pos, neg), z))) + auc_binning_bound(
        pos, neg
    )
    return MetricValue.ok(
        "roc_auc", value=auc, n=n, interval=(max(0.0, auc - half), min(1.0, auc + half)), method="cbpe_delta"
    )
