"""Coverage of the fairness intervals: six rate disparities, per-group rates, calibration.

Each scenario draws ``reps`` windows of k groups from a known truth and computes the
intervals with the service's own vectorised functions (the ones ``fairness_report`` and
``calibration_report`` call; ``tests/stats/test_fairness_coverage.py`` checks they agree
with the reports). A disparity covers when its interval holds the TRUE max − min (min/max
for the impact ratio) of the population rates of the groups it compared in that sample:
groups left out for ``min_group_n`` / ``min_denominator`` (e.g. a TPR from 4 positives)
are left out of the truth as well. Samples where the service serves no interval count as
skipped.

Scenarios (k = 2, 3, 6, 12 groups; n = 50, 200, 1,000, 10,000 rows per group, or "mixed":
unequal sizes from 50 to 5,000):

- selection rate (parity difference, impact ratio): rates around 0.03 and 0.5, all groups
  equal, one group at 0.7 × the others, or a spread from 0.7 × to 1 × the base;
- error rates (equal opportunity, predictive equality, equalized odds, predictive parity):
  prevalence 0.03 and 0.3, TPR around 0.5 and FPR around 0.03, all equal, one group at TPR
  0.35 / FPR 0.06, or a spread between those; every row labelled, so small groups have few positives. At
  prevalence 0.03 the sizes are 400 (12 positives: a TPR needs 10), 1,000, 10,000 and mixed
  from 400 to 40,000: below 400 rows almost no window has two groups with a TPR.

Per-group rate rows pool every group of the scenarios that differ only in k
(``fairness_common.pool_groups``). Two-group scenarios draw 4 × ``reps`` samples
(``fairness_common.draws``). Calibration scenarios live in ``fairness_calibration``. A few
rows at confidence 0.999 (the decision layer's Bonferroni level) close the table.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from benchmarks.coverage.common import CoverageRow
from benchmarks.coverage.fairness_calibration import calibration_rows
from benchmarks.coverage.fairness_common import GROUP_SUFFIX, draws, pool_groups, row, spread
from service.stats.fairness import MIN_DENOMINATOR, MIN_GROUP_N, sufficient
from service.stats.group_extremes import critical_values, difference_bounds, ratio_interval, wilson_limits

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

GROUPS = (2, 3, 6, 12)
SIZES: tuple[int | str, ...] = (50, 200, 1000, 10_000, "mixed")
RARE_SIZES: tuple[int | str, ...] = (400, 1000, 10_000, "mixed")
TRUTHS = ("equal", "one_off", "spread")


def sizes_of(size: int | str, k: int, smallest: int = 50) -> IntArray:
    """Rows per group: n each, or 'mixed' = geometric from ``smallest`` to 100 × ``smallest``."""
    if size == "mixed":
        return np.round(np.geomspace(smallest, 100 * smallest, k)).astype(np.int64)
    return np.full(k, int(size), dtype=np.int64)


def shaped(base: float, low: float, truth: str, k: int) -> FloatArray:
    """Per-group truth: all ``base``; group 0 at ``low``; or evenly from ``low`` to ``base``."""
    values = np.full(k, base)
    if truth == "one_off":
        values[0] = low
    elif truth == "spread":
        values = np.linspace(low, base, k)
    return values


def per_group_row(
    interval: str, scenario: str, x: IntArray, n: IntArray, use: BoolArray, p: FloatArray
) -> CoverageRow:
    """Coverage of each sufficient group's Wilson interval (the one ``group_rates`` serves)."""
    z = critical_values(2, confidence=0.95)[0]
    low, high = wilson_limits(x[use], n[use], z)
    truth = np.broadcast_to(p, x.shape)[use]
    return row(interval, scenario, 0.95, (low, high), truth)


def selection_rows(
    rng: np.random.Generator, reps: int, k: int, size: int | str, base: float, truth: str, confidence: float
) -> list[CoverageRow]:
    """Parity difference and impact ratio, and (at 0.95) the per-group selection rates."""
    p = shaped(base, 0.7 * base, truth, k)
    n = np.broadcast_to(sizes_of(size, k), (reps, k))
    x = rng.binomial(n, p)
    use = sufficient(n, n, min_group_n=MIN_GROUP_N, min_denominator=MIN_DENOMINATOR)
    label = f"k={k} n={size} rate={base} {truth}"
    ratio_truth = np.min(np.where(use, p, np.inf), -1) / np.max(np.where(use, p, -np.inf), -1)
    out = [
        row(
            "statistical_parity_difference",
            label,
            confidence,
            difference_bounds(x, n, use, confidence=confidence),
            spread(p, use),
        ),
        row(
            "disparate_impact_ratio",
            label,
            confidence,
            ratio_interval(x, n, use, confidence=confidence),
            ratio_truth,
        ),
    ]
    if confidence == 0.95:
        out.append(per_group_row("selection_rate" + GROUP_SUFFIX, label, x, n, use, p))
    return out


def _confusion(
    rng: np.random.Generator, n: IntArray, prevalence: float, tpr: FloatArray, fpr: FloatArray
) -> IntArray:
    """(reps, k, 4) counts of tp, fn, fp, tn: each group's rows multinomial on its cells."""
    cells = np.stack(
        [prevalence * tpr, prevalence * (1 - tpr), (1 - prevalence) * fpr, (1 - prevalence) * (1 - fpr)],
        axis=-1,
    )
    return rng.multinomial(n, cells)


def odds_row(
    label: str,
    confidence: float,
    counts: tuple[IntArray, IntArray, IntArray, IntArray],
    both: BoolArray,
    truth: tuple[FloatArray, FloatArray],
) -> CoverageRow:
    """Equalized odds over the groups with both rates (``both``): the bounds of ``equalized_odds``."""
    tp, fn, fp, tn = counts
    lt, ht = difference_bounds(tp, tp + fn, both, confidence=confidence, families=2)
    lf, hf = difference_bounds(fp, fp + tn, both, confidence=confidence, families=2)
    d = np.maximum(spread(truth[0], both), spread(truth[1], both))
    return row("equalized_odds_difference", label, confidence, (np.maximum(lt, lf), np.maximum(ht, hf)), d)


def error_rate_rows(
    rng: np.random.Generator,
    reps: int,
    k: int,
    size: int | str,
    prevalence: float,
    truth: str,
    confidence: float,
) -> list[CoverageRow]:
    """Equal opportunity, predictive equality, equalized odds, predictive parity, and (at 0.95)
    per-group TPR, FPR, PPV."""
    tpr, fpr = shaped(0.5, 0.35, truth, k), shaped(0.03, 0.06, truth, k)
    ppv = prevalence * tpr / (prevalence * tpr + (1 - prevalence) * fpr)
    n = np.broadcast_to(sizes_of(size, k, 400 if prevalence < 0.1 else 50), (reps, k))
    tp, fn, fp, tn = np.moveaxis(_confusion(rng, n, prevalence, tpr, fpr), -1, 0)

    def usable(denominator: IntArray) -> BoolArray:
        return sufficient(n, denominator, min_group_n=MIN_GROUP_N, min_denominator=MIN_DENOMINATOR)

    u_tpr, u_fpr, u_ppv = usable(tp + fn), usable(fp + tn), usable(tp + fp)
    label = f"k={k} n={size} prevalence={prevalence} {truth}"

    opportunity = difference_bounds(tp, tp + fn, u_tpr, confidence=confidence)
    equality = difference_bounds(fp, fp + tn, u_fpr, confidence=confidence)
    parity = difference_bounds(tp, tp + fp, u_ppv, confidence=confidence)
    out = [
        row("equal_opportunity_difference", label, confidence, opportunity, spread(tpr, u_tpr)),
        row("predictive_equality_difference", label, confidence, equality, spread(fpr, u_fpr)),
        odds_row(label, confidence, (tp, fn, fp, tn), u_tpr & u_fpr, (tpr, fpr)),
        row("predictive_parity_difference", label, confidence, parity, spread(ppv, u_ppv)),
    ]
    if confidence == 0.95:
        cells = {
            "tpr": (tp, tp + fn, u_tpr, tpr),
            "fpr": (fp, fp + tn, u_fpr, fpr),
            "ppv": (tp, tp + fp, u_ppv, ppv),
        }
        out += [per_group_row(rate + GROUP_SUFFIX, label, *cell) for rate, cell in cells.items()]
    return out


Family = Callable[[np.random.Generator, int, int, "int | str", float, str, float], list[CoverageRow]]
# (rows function, base rate or prevalence, sizes)
FAMILIES: tuple[tuple[Family, float, tuple[int | str, ...]], ...] = (
    (selection_rows, 0.03, SIZES),
    (selection_rows, 0.5, SIZES),
    (error_rate_rows, 0.03, RARE_SIZES),
    (error_rate_rows, 0.3, SIZES),
)
STRICT: tuple[tuple[int, int | str], ...] = ((2, 200), (12, 50), (12, 1000))


def rows(reps: int, seed: int) -> list[CoverageRow]:
    """Every fairness interval in every scenario (module doc), at 0.95 then a few at 0.999."""
    rng = np.random.default_rng(seed)
    out: list[CoverageRow] = []
    for family, base, sizes in FAMILIES:
        for k in GROUPS:
            for size in sizes:
                for truth in TRUTHS:
                    out += family(rng, draws(reps, k), k, size, base, truth, 0.95)
    out += calibration_rows(rng, reps, confidence=0.95)
    for family, base, _ in FAMILIES[1::2]:
        for k, size in STRICT:
            out += family(rng, draws(reps, k), k, size, base, "equal", 0.999)
    out += calibration_rows(rng, reps, confidence=0.999, only=STRICT)
    return pool_groups(out)
