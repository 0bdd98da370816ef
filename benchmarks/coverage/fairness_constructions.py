"""Why the fairness intervals are built the way they are: served vs rejected constructions.

    python -m benchmarks.coverage.fairness_constructions [--reps N]

Prints two markdown tables on seeded data (not part of the coverage table: the rejected
constructions are not served):

1. max − min of k selection rates, all groups equal or one group at 0.7 × the rate: coverage,
   mean width and mean lower bound of the served construction (``group_extremes``), the
   previous one (Newcombe per unordered pair at 1 − α/m, m = k(k − 1)/2, both sides), and
   simultaneous per-group Wilson intervals (Šidák over k) combined as
   [max(0, max_g l_g − min_g u_g), max_g u_g − min_g l_g].
2. calibration-in-the-large of one group: the normal interval CITL ± z √((Brier − CITL²)/n),
   the correlated MOVER with r from any count, and the served one (r only from
   ``MIN_CORRELATION_COUNT`` positives and negatives).

then the outside tester's windows (12 groups independent of everything, 2,000 windows of
2,000 rows: how often each interval excludes "no disparity"), and the time of one
``fairness_report`` and one ``calibration_report`` over 12 groups.
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri
from scipy.stats import beta

from benchmarks.coverage.fairness_calibration import EDGES, GRID, draw
from benchmarks.coverage.fairness_common import TOLERANCE
from service.stats.aggregates import BinaryCounts, ScoreHistogram
from service.stats.fairness import fairness_report
from service.stats.group_calibration import CalibrationSums, calibration_report, citl_limits
from service.stats.group_extremes import difference_bounds, range_bounds, wilson_limits
from service.stats.outcomes import Outcomes

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Bounds = tuple[FloatArray, FloatArray]
ALPHA = 0.05


def previous(x: IntArray, n: IntArray) -> Bounds:
    """Newcombe for every unordered pair at 1 − α/m, m = k(k − 1)/2 (the construction replaced)."""
    k = x.shape[-1]
    z = float(ndtri(1.0 - ALPHA / (k * (k - 1))))
    limits = wilson_limits(x, n, z)
    return range_bounds(x / n, limits, limits, np.ones(x.shape, dtype=bool))


def per_group(x: IntArray, n: IntArray) -> Bounds:
    """Šidák-simultaneous Wilson interval per group, combined through the extremes."""
    k = x.shape[-1]
    z = float(ndtri(1.0 - (1.0 - (1.0 - ALPHA) ** (1.0 / k)) / 2.0))
    low, high = wilson_limits(x, n, z)
    return np.maximum(low.max(-1) - high.min(-1), 0.0), high.max(-1) - low.min(-1)


def served(x: IntArray, n: IntArray) -> Bounds:
    return difference_bounds(x, n, np.ones(x.shape, dtype=bool), confidence=1.0 - ALPHA)


@dataclass(frozen=True, slots=True)
class Line:
    """One construction in one scenario: coverage of the truth, mean width, mean lower bound."""

    construction: str
    scenario: str
    coverage: float
    width: float
    lower: float


def measure(construction: str, scenario: str, bounds: Bounds, truth: float) -> Line:
    low, high = bounds
    hits = (low <= truth + TOLERANCE) & (truth <= high + TOLERANCE)
    return Line(construction, scenario, float(hits.mean()), float((high - low).mean()), float(low.mean()))


def range_lines(rng: np.random.Generator, reps: int) -> list[Line]:
    constructions: dict[str, Callable[[IntArray, IntArray], Bounds]] = {
        "served (pairs, α split)": served,
        "previous (pairs, Bonferroni)": previous,
        "per-group Šidák": per_group,
    }
    out = []
    for base in (0.5, 0.03):
        for truth in ("equal", "one_off"):
            for k in (2, 3, 6, 12):
                for size in (50, 1000):
                    p = np.full(k, base)
                    p[0] = 0.7 * base if truth == "one_off" else base
                    n = np.full((reps, k), size)
                    x = rng.binomial(n, p)
                    label = f"k={k} n={size} rate={base} {truth}"
                    out += [measure(c, label, f(x, n), p.max() - p.min()) for c, f in constructions.items()]
    return out


def citl_lines(rng: np.random.Generator, reps: int) -> list[Line]:
    z = float(ndtri(1.0 - ALPHA / 2.0))
    out = []
    for scores, (a, b) in {"rare": (0.6, 18.0), "common": (2.0, 4.67)}.items():
        weights = np.diff(beta.cdf(EDGES, a, b))
        for factor in (1.0, 0.7):
            positive = np.minimum(1.0, factor * GRID)[None, :]
            truth = float(weights @ GRID - positive[0] @ weights)
            for size in (10, 30, 200, 1000):
                sums = draw(rng, reps, np.array([size]), weights, positive)
                label = f"n={size} scores={scores} c={factor}"
                out += [
                    measure("normal", label, normal_citl(sums, z), truth),
                    measure(
                        "MOVER, r from any count",
                        label,
                        citl_limits(sums, z, min_correlation_count=1)[1:],
                        truth,
                    ),
                    measure("served (MOVER, r from 5 + 5)", label, citl_limits(sums, z)[1:], truth),
                ]
    return out


def normal_citl(sums: CalibrationSums, z: float) -> Bounds:
    """CITL ± z √(s² / n), s² = (Brier − CITL²) · n / (n − 1)."""
    n = sums.n
    d = (sums.score_sum - sums.positives) / n
    brier = (sums.score_sq_sum - 2.0 * sums.positive_score_sum + sums.positives) / n
    half = z * np.sqrt(np.maximum(brier - d * d, 0.0) / (n - 1.0))
    return d - half, d + half


def table(lines: list[Line]) -> str:
    out = ["| construction | scenario | coverage | mean width | mean lower bound |", "|---|---|---|---|---|"]
    out += [
        f"| {x.construction} | {x.scenario} | {x.coverage:.3f} | {x.width:.4f} | {x.lower:.4f} |"
        for x in lines
    ]
    return "\n".join(out)


DISPARITIES = (
    "statistical_parity_difference",
    "disparate_impact_ratio",
    "equal_opportunity_difference",
    "equalized_odds_difference",
    "predictive_parity_difference",
)


def independent_intersections(rng: np.random.Generator, windows: int = 2000, rows: int = 2000) -> str:
    """The outside tester's case: 12 groups (sex × age band) independent of score and label.

    Per disparity: share of windows whose interval excludes "no disparity" (lower bound > 0;
    for the ratio, upper bound < 1), and the mean and the smallest plug-in value.
    """
    excluded = dict.fromkeys(DISPARITIES, 0)
    values: dict[str, list[float]] = {m: [] for m in DISPARITIES}
    for _ in range(windows):
        group = rng.integers(0, 12, size=rows)
        score = rng.beta(2.0, 5.0, size=rows)
        y, pred = rng.random(rows) < score, score >= 0.4
        groups = {
            f"sex={g // 6}|age_band={g % 6}": BinaryCounts.from_arrays(
                predicted_positive=pred[group == g], actual_positive=y[group == g]
            )
            for g in range(12)
        }
        report = fairness_report(attribute="sex×age_band", groups=groups)
        for m in DISPARITIES:
            d = report.disparity(m)
            if m == "disparate_impact_ratio":
                excluded[m] += d.ci_high is not None and d.ci_high < 1.0
            else:
                excluded[m] += d.ci_low is not None and d.ci_low > 0.0
            values[m].append(d.value if d.value is not None else float("nan"))
    lines = [
        "| disparity | windows excluding no disparity | mean plug-in | smallest plug-in |",
        "|---|---|---|---|",
    ]
    for m in DISPARITIES:
        v = np.array(values[m])
        lines.append(f"| {m} | {excluded[m] / windows:.4f} | {np.nanmean(v):.3f} | {np.nanmin(v):.3f} |")
    return "\n".join(lines)


def report_times(rng: np.random.Generator, k: int = 12, rows: int = 170) -> str:
    """Milliseconds per report for k groups (best of 5 × 50 calls), at confidence 0.95 and 0.999."""
    edges = tuple(float(e) for e in np.linspace(0.0, 1.0, 21))
    counts, outcomes = {}, {}
    for i in range(k):
        s = rng.beta(2.0, 5.0, rows)
        y = rng.random(rows) < s
        counts[f"g{i}"] = BinaryCounts.from_arrays(predicted_positive=s > 0.5, actual_positive=y, scores=s)
        outcomes[f"g{i}"] = Outcomes(
            counts[f"g{i}"], ScoreHistogram.from_arrays(edges, scores=s, actual_positive=y)
        )
    lines = []
    for c in (0.95, 0.999):
        calls: dict[str, Callable[[], object]] = {
            "fairness_report": partial(fairness_report, attribute="a", groups=counts, confidence=c),
            "calibration_report": partial(calibration_report, attribute="a", groups=outcomes, confidence=c),
        }
        for name, call in calls.items():
            best = min(timeit.repeat(call, number=50, repeat=5)) / 50
            lines.append(f"{name}, k = {k}, confidence {c}: {best * 1e3:.2f} ms")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=20261206)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(table(range_lines(rng, args.reps)))
    print()
    print(table(citl_lines(rng, args.reps)))
    print()
    print(independent_intersections(rng))
    print()
    print(report_times(rng))


if __name__ == "__main__":
    main()
