"""Group fairness of a binary classifier, and representation shift of protected groups.

Input is a mapping group → ``BinaryCounts``, one per value of a protected attribute or per
declared intersection (e.g. ``"sex=F|age_band=18-25"``; this module does not care how the
key was built). Per group: selection rate SR = P(ŷ=1), TPR = P(ŷ=1 | y=1),
FPR = P(ŷ=1 | y=0), PPV = P(y=1 | ŷ=1), each a Wilson interval. Across groups, the rate
disparities of ``disparities.DISPARITIES`` in its order; those of BRIEF.md are:

- statistical parity difference = max_g SR_g − min_g SR_g
- disparate impact ratio = min_g SR_g / max_g SR_g (four-fifths rule: alert below 0.8)
- equal opportunity difference = max − min of TPR_g
- equalized odds difference = max(TPR difference, FPR difference) (fairlearn ``worst_case``)
  over the groups where both TPR and FPR are sufficient: a group enters both sides or neither
- predictive parity difference = max − min of PPV_g

The values are the plug-in max − min (min/max) of the observed rates, as fairlearn reports
them. Calibration within groups is in ``group_calibration``.

Hygiene: a group with fewer than ``min_group_n`` rows (default 30), or a rate whose
denominator is below ``min_denominator`` (default 10: a TPR from 3 positives moves by 0.33
per row), is ``insufficient_data`` and left out of the disparities and listed in their
``excluded``; a disparity needs two groups with that rate. Selection rate and its two
disparities need no labels.

Intervals hold for the TRUE max − min (min/max) of the population rates although the data
picked the extreme groups: with 12 equal groups of 50 rows the plug-in max − min of rates
near 0.5 averages 0.22 while the truth is 0. ``group_extremes`` has the construction
(pairwise Newcombe / Katz limits; the side that the choice of extremes can only widen is
spent at α/2 on the true pair, the other side is Bonferroni over the ordered pairs) and why
it beats per-group simultaneous intervals. Equalized odds shares one budget between the TPR
and FPR families. With two groups this is the plain Newcombe / Katz interval.

Representation (``representation_shift``): each group's share of the window's rows against
its share in the reference, as a categorical drift: a two-sample chi-square contingency
test over the groups plus Cramér's V as effect size, and per-group share differences.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special as _special

from service.stats.aggregates import BinaryCounts
from service.stats.disparities import DisparitySpec, disparities_of
from service.stats.group_extremes import BoolArray, FloatArray, difference_bounds, ratio_interval
from service.stats.intervals import MetricValue, Status, newcombe_difference, wilson

ArrayLike = npt.ArrayLike

MIN_GROUP_N = 30
MIN_DENOMINATOR = 10
DIFFERENCE_METHOD = "newcombe_simultaneous"
RATIO_METHOD = "katz_simultaneous"

# rate name → (numerator, denominator) read from a group's counts
RATES: dict[str, Callable[[BinaryCounts], tuple[int, int]]] = {
    "selection_rate": lambda c: (c.predicted_positive, c.n),
    "tpr": lambda c: (c.tp, c.tp + c.fn),
    "fpr": lambda c: (c.fp, c.fp + c.tn),
    "ppv": lambda c: (c.tp, c.tp + c.fp),
}


@dataclass(frozen=True, slots=True)
class GroupRates:
    """One group's four rates; ``status`` is about the group's size alone."""

    group: str
    n: int
    labelled: int
    status: Status
    rates: tuple[MetricValue, ...]

    def rate(self, name: str) -> MetricValue:
        return next(r for r in self.rates if r.metric == name)


@dataclass(frozen=True, slots=True)
class Disparity:
    """A disparity across groups, with the groups that set it and those left out.

    ``n`` is the rows behind it (the sum of the compared groups' rate denominators; for
    equalized odds, TPR and FPR denominators together); ``groups_compared`` counts the
    groups with a sufficient rate; ``high_group`` / ``low_group`` hold the max and min
    rate (for the ratio: its denominator and numerator group); ``excluded`` lists the
    groups left out as ``insufficient_data``.
    """

    metric: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    status: Status
    method: str
    n: int
    groups_compared: int
    high_group: str | None
    low_group: str | None
    excluded: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FairnessReport:
    attribute: str
    groups: tuple[GroupRates, ...]
    disparities: tuple[Disparity, ...]

    def group(self, name: str) -> GroupRates:
        return next(g for g in self.groups if g.group == name)

    def disparity(self, name: str) -> Disparity:
        return next(d for d in self.disparities if d.metric == name)


# ---------------------------------------------------------------- per group


def group_rates(
    group: str,
    counts: BinaryCounts,
    *,
    min_group_n: int = MIN_GROUP_N,
    min_denominator: int = MIN_DENOMINATOR,
    confidence: float = 0.95,
) -> GroupRates:
    """The four rates of one group with Wilson intervals; n of each rate = its denominator."""
    big_enough = counts.n >= min_group_n
    out = []
    for name, read in RATES.items():
        x, n = read(counts)
        if not sufficient(counts.n, n, min_group_n=min_group_n, min_denominator=min_denominator):
            out.append(MetricValue.insufficient(name, n=n, method="wilson"))
        else:
            ci = wilson(successes=x, trials=n, confidence=confidence)
            out.append(MetricValue.ok(name, value=x / n, n=n, interval=ci, method="wilson"))
    status: Status = "ok" if big_enough else "insufficient_data"
    return GroupRates(group, counts.n, counts.labelled, status, tuple(out))


# ---------------------------------------------------------------- across groups

Cell = tuple[str, int, int]  # group, successes, trials


def _cells(
    groups: Sequence[GroupRates], counts: Mapping[str, BinaryCounts], rate: str, among: set[str] | None = None
) -> tuple[list[Cell], tuple[str, ...]]:
    """(groups whose ``rate`` is sufficient, restricted to ``among`` if given; the others)."""
    cells = []
    for g in groups:
        if g.rate(rate).status == "ok" and (among is None or g.group in among):
            x, n = RATES[rate](counts[g.group])
            cells.append((g.group, x, n))
    kept = {c[0] for c in cells}
    return cells, tuple(g.group for g in groups if g.group not in kept)


def sufficient(
    rows: ArrayLike, denominators: ArrayLike, *, min_group_n: int, min_denominator: int
) -> BoolArray:
    """Which groups enter a disparity: rows ≥ min_group_n and rate denominator ≥ max(min_denominator, 1)."""
    return (np.asarray(rows) >= min_group_n) & (np.asarray(denominators) >= max(min_denominator, 1))


def _extremes(cells: list[Cell]) -> tuple[Cell, Cell]:
    """(max cell, min cell) by rate; ties broken by group name so results are reproducible."""
    ordered = sorted(cells, key=lambda c: (c[1] / c[2], c[0]))
    return ordered[-1], ordered[0]


def insufficient_disparity(
    metric: str, method: str, n: int, compared: int, excluded: tuple[str, ...]
) -> Disparity:
    """A disparity without value or interval (fewer than two groups, or a 0/0 ratio)."""
    return Disparity(metric, None, None, None, "insufficient_data", method, n, compared, None, None, excluded)


def _columns(cells: list[Cell]) -> tuple[FloatArray, FloatArray, BoolArray]:
    x = np.array([c[1] for c in cells], dtype=np.float64)
    n = np.array([c[2] for c in cells], dtype=np.float64)
    return x, n, np.ones(len(cells), dtype=bool)


def rate_difference(
    metric: str, cells: list[Cell], excluded: tuple[str, ...], *, confidence: float, families: int = 1
) -> Disparity:
    """max_g rate − min_g rate over ``cells`` with the simultaneous bounds of ``difference_bounds``."""
    total = sum(c[2] for c in cells)
    if len(cells) < 2:
        return insufficient_disparity(metric, DIFFERENCE_METHOD, total, len(cells), excluded)
    (g_hi, x_hi, n_hi), (g_lo, x_lo, n_lo) = _extremes(cells)
    value = x_hi / n_hi - x_lo / n_lo
    low, high = difference_bounds(*_columns(cells), confidence=confidence, families=families)
    return Disparity(
        metric,
        value,
        min(float(low), value),
        max(float(high), value),
        "ok",
        DIFFERENCE_METHOD,
        total,
        len(cells),
        g_hi,
        g_lo,
        excluded,
    )


def rate_ratio(metric: str, cells: list[Cell], excluded: tuple[str, ...], *, confidence: float) -> Disparity:
    """min_g rate / max_g rate with simultaneous Katz bounds (``ratio_interval``), capped at 1.

    A max rate of 0 (nobody selected in any group) makes the ratio 0/0: insufficient_data.
    """
    total = sum(c[2] for c in cells)
    if len(cells) < 2 or max(x for _, x, _ in cells) == 0:
        return insufficient_disparity(metric, RATIO_METHOD, total, len(cells), excluded)
    (g_hi, x_hi, n_hi), (g_lo, x_lo, n_lo) = _extremes(cells)
    value = (x_lo / n_lo) / (x_hi / n_hi)
    low, high = ratio_interval(*_columns(cells), confidence=confidence)
    return Disparity(
        metric,
        value,
        min(float(low), value),
        max(float(high), value),
        "ok",
        RATIO_METHOD,
        total,
        len(cells),
        g_hi,
        g_lo,
        excluded,
    )


def worst_difference(
    name: str, first: list[Cell], second: list[Cell], excluded: tuple[str, ...], *, confidence: float
) -> Disparity:
    """max(first rate's difference, second's) over the same groups in the same order (equalized
    odds: TPR and FPR). One error budget (``families=2``): L = max(L_1, L_2) needs every ordered
    pair of both families, U = max(U_1, U_2) only the true extreme pair of the family that sets
    the true value (group_extremes module doc)."""
    t = rate_difference(name, first, excluded, confidence=confidence, families=2)
    f = rate_difference(name, second, excluded, confidence=confidence, families=2)
    if t.status != "ok" or f.status != "ok":
        return insufficient_disparity(name, DIFFERENCE_METHOD, t.n + f.n, len(first), excluded)
    worst = t if (t.value or 0.0) >= (f.value or 0.0) else f
    return Disparity(
        name,
        worst.value,
        max(t.ci_low or 0.0, f.ci_low or 0.0),
        max(t.ci_high or 0.0, f.ci_high or 0.0),
        "ok",
        DIFFERENCE_METHOD,
        t.n + f.n,
        len(first),
        worst.high_group,
        worst.low_group,
        excluded,
    )


def _disparity(
    spec: DisparitySpec, rates: Sequence[GroupRates], counts: Mapping[str, BinaryCounts], confidence: float
) -> Disparity:
    """One rate disparity of the table; two rates: a group enters both sides or neither."""
    if len(spec.rates) == 2:
        first, second = spec.rates
        both = {g.group for g in rates if g.rate(first).status == g.rate(second).status == "ok"}
        (cells_1, out), (cells_2, _) = _cells(rates, counts, first, both), _cells(rates, counts, second, both)
        return worst_difference(spec.name, cells_1, cells_2, out, confidence=confidence)
    cells, out = _cells(rates, counts, spec.rates[0])
    if spec.form == "ratio":
        return rate_ratio(spec.name, cells, out, confidence=confidence)
    return rate_difference(spec.name, cells, out, confidence=confidence)


def fairness_report(
    *,
    attribute: str,
    groups: Mapping[str, BinaryCounts],
    expected_groups: Sequence[str] = (),
    min_group_n: int = MIN_GROUP_N,
    min_denominator: int = MIN_DENOMINATOR,
    confidence: float = 0.95,
) -> FairnessReport:
    """Per-group rates and the rate disparities of ``disparities.DISPARITIES`` (those that need
    no scores) for one attribute or intersection.

    ``expected_groups`` (e.g. those seen in the reference) that are absent from ``groups``
    are reported with n = 0 and ``insufficient_data`` rather than silently dropped.
    """
    counts = dict(groups)
    for name in expected_groups:
        counts.setdefault(name, BinaryCounts.empty())
    rates = tuple(
        group_rates(
            g, counts[g], min_group_n=min_group_n, min_denominator=min_denominator, confidence=confidence
        )
        for g in sorted(counts)
    )

    disparities = tuple(_disparity(d, rates, counts, confidence) for d in disparities_of(scored=False))
    return FairnessReport(attribute, rates, disparities)


# ---------------------------------------------------------------- representation


@dataclass(frozen=True, slots=True)
class GroupShare:
    """A group's share of the traffic now vs the reference.

    ``share_difference`` = current share − reference share with a Newcombe interval;
    ``vanished``: present in the reference, absent now; ``new``: absent from the reference.
    """

    group: str
    reference_count: int
    current_count: int
    share_difference: MetricValue
    vanished: bool
    new: bool


@dataclass(frozen=True, slots=True)
class RepresentationReport:
    """Two-sample chi-square contingency test of group shares (2 × k table) and Cramér's V.

    χ² = Σ (O − E)² / E with E = row total · column total / N, dof = k − 1 over the k groups
    seen in either sample; p = P(χ²_dof ≥ χ²) (no Yates correction); V = √(χ² / N), in
    [0, 1] for a 2-row table. None (and ``insufficient_data``) when either sample has fewer
    than ``min_n`` rows or fewer than two groups occur at all.
    """

    attribute: str
    reference_n: int
    current_n: int
    status: Status
    statistic: float | None
    p_value: float | None
    dof: int
    cramers_v: float | None
    groups: tuple[GroupShare, ...]


def _share(group: str, ref: int, cur: int, ref_n: int, cur_n: int, ok: bool, confidence: float) -> GroupShare:
    if not ok:
        diff = MetricValue.insufficient("share_difference", n=cur_n, method="newcombe")
    else:
        ci = newcombe_difference(
            successes_a=cur, trials_a=cur_n, successes_b=ref, trials_b=ref_n, confidence=confidence
        )
        diff = MetricValue.ok(
            "share_difference", value=cur / cur_n - ref / ref_n, n=cur_n, interval=ci, method="newcombe"
        )
    return GroupShare(group, ref, cur, diff, ok and ref > 0 and cur == 0, ok and ref == 0 and cur > 0)


def _chi_square(ref: list[int], cur: list[int]) -> tuple[float, float, int, float]:
    """(χ², p, dof, Cramér's V) of the 2 × k table, columns with a zero total dropped."""
    kept = [(r, c) for r, c in zip(ref, cur, strict=True) if r + c > 0]
    big_r, big_c = sum(r for r, _ in kept), sum(c for _, c in kept)
    total = big_r + big_c
    stat = 0.0
    for r, c in kept:
        col = r + c
        e_r, e_c = big_r * col / total, big_c * col / total
        stat += (r - e_r) ** 2 / e_r + (c - e_c) ** 2 / e_c
    dof = len(kept) - 1
    return stat, float(_special.chdtrc(dof, stat)), dof, (stat / total) ** 0.5


def representation_shift(
    *,
    attribute: str,
    reference: Mapping[str, int],
    current: Mapping[str, int],
    min_n: int = MIN_GROUP_N,
    confidence: float = 0.95,
) -> RepresentationReport:
    """Has the mix of protected groups moved? Row counts by group for the reference and window.

    A group that vanishes from the traffic is a bias risk before any metric moves, and it
    also drops out of every disparity, so it must be flagged here.
    """
    names = sorted(set(reference) | set(current))
    ref = [int(reference.get(g, 0)) for g in names]
    cur = [int(current.get(g, 0)) for g in names]
    ref_n, cur_n = sum(ref), sum(cur)
    ok = ref_n >= min_n and cur_n >= min_n and sum(1 for r, c in zip(ref, cur, strict=True) if r + c) >= 2
    rows = zip(names, ref, cur, strict=True)
    shares = tuple(_share(g, r, c, ref_n, cur_n, ok, confidence) for g, r, c in rows)
    if not ok:
        return RepresentationReport(attribute, ref_n, cur_n, "insufficient_data", None, None, 0, None, shares)
    stat, p_value, dof, v = _chi_square(ref, cur)
    return RepresentationReport(attribute, ref_n, cur_n, "ok", stat, p_value, dof, v, shares)
