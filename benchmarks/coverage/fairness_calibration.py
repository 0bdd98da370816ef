"""Coverage of calibration-in-the-large per group and of ``calibration_difference``.

Scores live on 12 bin midpoints v_j (edges (j/12)², finer near 0) with weights π_j from a Beta distribution
("rare": Beta(0.6, 18), mean score 0.032; "common": Beta(2, 4.67), mean 0.30), and
P(y = 1 | s = v) = min(1, c_g · v) for a per-group factor c_g: 1 is calibrated, 0.7
over-predicts, 1.3 under-predicts. A group of n labelled scored rows is then multinomial
over the 24 (score, label) cells, which is exact for any n at the cost of 24 numbers, and
its true CITL = Σ π_j v_j − Σ π_j min(1, c_g v_j) is known exactly. Truths: all groups
calibrated (difference 0), one group at c = 0.7, or c spread from 0.7 to 1.3. n = 30 (the
smallest group ``calibration_report`` accepts by default), 200, 1,000, 10,000 rows, or
unequal sizes from 30 to 3,000. Per-group rows are pooled over k (``pool_groups``); two-group
scenarios draw 4 × ``reps`` samples (``fairness_common.draws``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy.stats import beta

from benchmarks.coverage.common import CoverageRow
from benchmarks.coverage.fairness_common import GROUP_SUFFIX, draws, row, spread
from service.stats.fairness import MIN_DENOMINATOR, MIN_GROUP_N
from service.stats.group_calibration import CalibrationSums, calibration_bounds, citl_limits
from service.stats.group_extremes import critical_values

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

EDGES = np.linspace(0.0, 1.0, 13) ** 2  # 12 bins, finer near 0 where rare-event scores sit
GRID = (EDGES[:-1] + EDGES[1:]) / 2.0
SCORES = {"rare": (0.6, 18.0), "common": (2.0, 4.67)}
GROUPS = (2, 3, 6, 12)
SIZES: tuple[int | str, ...] = (30, 200, 1000, 10_000, "mixed")
TRUTHS = ("equal", "one_off", "spread")


def _factors(truth: str, k: int) -> FloatArray:
    if truth == "one_off":
        return np.array([0.7] + [1.0] * (k - 1))
    return np.linspace(0.7, 1.3, k) if truth == "spread" else np.ones(k)


def _sizes(size: int | str, k: int) -> IntArray:
    if size == "mixed":
        return np.round(np.geomspace(30, 3000, k)).astype(np.int64)
    return np.full(k, int(size), dtype=np.int64)


def _multinomial(rng: np.random.Generator, n: IntArray, weights: FloatArray) -> IntArray:
    """Multinomial(n, weights) counts, shape n.shape + (bins,), as a chain of binomials.

    count_j ~ Binomial(n − Σ_{i<j} count_i, w_j / (1 − Σ_{i<j} w_i)): the same distribution as
    ``Generator.multinomial``, drawn in one vectorised call per bin (5x faster here).
    """
    left = n.copy()
    mass = 1.0
    out = np.zeros((*n.shape, weights.size), dtype=np.int64)
    for j, w in enumerate(weights[:-1].tolist()):
        out[..., j] = rng.binomial(left, min(1.0, w / mass) if mass > 0.0 else 0.0)
        left -= out[..., j]
        mass -= w
    out[..., -1] = left
    return out


def draw(
    rng: np.random.Generator, reps: int, sizes: IntArray, weights: FloatArray, positive: FloatArray
) -> CalibrationSums:
    """Sums of (reps, k) groups: rows per score ~ multinomial(n, π), positives ~ binomial(rows, P(y=1|s)).

    ``positive`` (k, bins) = P(y = 1 | s = v_j) per group; the two stages are the multinomial
    over (score, label) cells.
    """
    rows = _multinomial(rng, np.broadcast_to(sizes, (reps, sizes.size)).copy(), weights)
    pos = rng.binomial(rows, positive)
    return CalibrationSums.of_arrays(rows.sum(-1), rows @ GRID, rows @ (GRID * GRID), pos.sum(-1), pos @ GRID)


def _scenario(
    rng: np.random.Generator, reps: int, spec: tuple[str, int, int | str, str], confidence: float
) -> list[CoverageRow]:
    scores, k, size, truth = spec
    weights = np.diff(beta.cdf(EDGES, *SCORES[scores]))
    positive = np.minimum(1.0, _factors(truth, k)[:, None] * GRID)
    citl = weights @ GRID - positive @ weights
    sums = draw(rng, reps, _sizes(size, k), weights, positive)
    use = sums.n >= max(MIN_GROUP_N, MIN_DENOMINATOR, 2)
    label = f"k={k} n={size} scores={scores} {truth}"
    out = [
        row(
            "calibration_difference",
            label,
            confidence,
            calibration_bounds(sums, use, confidence=confidence),
            spread(citl, use),
        )
    ]
    if confidence == 0.95:
        _, low, high = citl_limits(sums, critical_values(2, confidence=confidence)[0])
        truth_each = np.broadcast_to(citl, use.shape)
        out.append(
            row(
                "calibration_in_the_large" + GROUP_SUFFIX, label, 0.95, (low[use], high[use]), truth_each[use]
            )
        )
    return out


def calibration_rows(
    rng: np.random.Generator,
    reps: int,
    *,
    confidence: float,
    only: Sequence[tuple[int, int | str]] | None = None,
) -> list[CoverageRow]:
    """Every calibration scenario (module doc); ``only`` = (k, size) pairs, all-calibrated truth."""
    if only is not None:
        specs = [("rare", k, size, "equal") for k, size in only]
    else:
        specs = [(s, k, n, t) for s in SCORES for k in GROUPS for n in SIZES for t in TRUTHS]
    return [r for spec in specs for r in _scenario(rng, draws(reps, spec[1]), spec, confidence)]
