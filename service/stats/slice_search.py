"""Failing slices: which cells of ``SliceCounts`` perform significantly worse than the rest.

Every cell s of every block (single column or pair; ``slices.py``) is tested against the
rest R of the same window (the block's other cells: all counted rows minus s), one-sided
in the direction that is worse:

- a rate (error rate; the miss rate 1 − TPR over the positives; FPR over the negatives),
  x bad rows of n on each side: the one-sided Fisher exact test, p = P(X ≥ x_s) with
  X ~ Hypergeometric(N = n_s + n_R, K = x_s + x_R, n_s draws). The two-proportion z-test
  was tried first: on small cells (n_s ≈ 40 at a 20% rate) its normal tail is too thin,
  and 31 of 200 quiet windows (15%) had a false discovery at q = 0.05; the exact test's
  share is measured in ``tests/stats/test_slices.py``.
- MAE (regression): with m = Σ|e| / n and s² = (Σe² − n m²) / (n − 1) on each side,
  t = (m_s − m_R) / √(s_s²/n_s + s_R²/n_R), Welch's test with Welch–Satterthwaite degrees
  of freedom; p = P(T_df ≥ t).

A cell is tested when n_s ≥ ``min_rows`` and n_R ≥ ``min_rows``; the p-values of all
tested cells (singles and pairs together) are adjusted by Benjamini–Hochberg and a cell is
a discovery when q < ``fdr`` (0.05 by default). A pair discovery is kept only when the lower
confidence bound of its gap (below) exceeds both of its parents' gaps: otherwise one of its
columns alone may explain it (a random sub-cell of a failing category is as bad as the
category, and its point gap beats the category's half of the time).

Reported per discovery: n_s, the metric on the slice with its two-sided interval at
``confidence`` (Wilson for rates, mean ± z·s/√n for MAE), the rest's value, the *gap*
(how much worse the slice is, in the metric's units, positive = worse) and its one-sided
lower confidence bound gap − z₁₋α·SE (unpooled SE), which ranks the discoveries: a large
gap known precisely comes first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

from service.stats.fdr import benjamini_hochberg
from service.stats.intervals import z_value
from service.stats.slices import SliceCounts, SlicePlan

FloatArray = npt.NDArray[np.float64]
# metric → (tasks it serves, higher value is worse)
METRICS: dict[str, tuple[frozenset[str], bool]] = {
    "error_rate": (frozenset({"binary_classification", "multiclass_classification"}), True),
    "tpr": (frozenset({"binary_classification"}), False),
    "fpr": (frozenset({"binary_classification"}), True),
    "mae": (frozenset({"regression"}), True),
}
DEFAULT_METRIC = {
    "binary_classification": "error_rate",
    "multiclass_classification": "error_rate",
    "regression": "mae",
}


@dataclass(frozen=True, slots=True)
class SliceFinding:
    """One slice worse than the rest; ``cells`` are (kind, column, cell) per column crossed."""

    cells: tuple[tuple[str, str, str], ...]
    n: int
    value: float
    low: float
    high: float
    rest_n: int
    rest_value: float
    gap: float
    gap_low: float
    p_value: float
    q_value: float


@dataclass(frozen=True, slots=True)
class SliceSearch:
    """The search over one window: rows counted, the overall value, how many cells were
    tested, and the discoveries ranked by ``gap_low`` (largest first)."""

    metric: str
    n: int
    value: float | None
    tested: int
    fdr: float
    confidence: float
    findings: tuple[SliceFinding, ...]


@dataclass(frozen=True, slots=True)
class _Cells:
    """Per cell of one block: denominator, numerator (rates) or Σ|e|, Σe² (MAE)."""

    n: FloatArray
    x: FloatArray
    sq: FloatArray


def _block_cells(task: str, metric: str, matrix: FloatArray) -> _Cells:
    if task == "regression":
        return _Cells(matrix[:, 0], matrix[:, 1], matrix[:, 2])
    if task == "multiclass_classification":
        return _Cells(matrix.sum(axis=1), matrix[:, 1], matrix[:, 1])
    tp, fp, fn, tn = matrix.T
    if metric == "tpr":  # tested as the miss rate fn / (tp + fn)
        return _Cells(tp + fn, fn, fn)
    if metric == "fpr":
        return _Cells(fp + tn, fp, fp)
    return _Cells(matrix.sum(axis=1), fp + fn, fp + fn)


def _rate_tests(s: _Cells, total: _Cells) -> tuple[FloatArray, ...]:
    """(slice rate, rest rate, rest n, one-sided exact p, unpooled SE of the gap)."""
    n_r, x_r = total.n - s.n, total.x - s.x
    with np.errstate(divide="ignore", invalid="ignore"):
        p_s, p_r = s.x / s.n, x_r / n_r
        se = np.sqrt(p_s * (1 - p_s) / s.n + p_r * (1 - p_r) / n_r)
    p = hypergeometric_sf(s.x, total.n, total.x, s.n)
    return p_s, p_r, n_r, p, se


def _log_choose(a: FloatArray, b: FloatArray) -> FloatArray:
    out: FloatArray = special.gammaln(a + 1) - special.gammaln(b + 1) - special.gammaln(a - b + 1)
    return out


_BLOCK = 256  # pmf terms evaluated per cell and step: 8.8 sd reach 1e-17 of the peak


def _tail(start: FloatArray, big: FloatArray, good: FloatArray, draws: FloatArray, *, up: bool) -> FloatArray:
    """Σ of hypergeometric pmf(k) from k = ``start`` away from the mode (up or down), a block
    of ``_BLOCK`` terms per cell at a time, until a block's last term is < 1e-17 of the sum.

    log pmf(k) = c − lnΓ(k+1) − lnΓ(K−k+1) − lnΓ(n−k+1) − lnΓ(N−K−n+k+1), with the constant
    c = lnΓ(K+1) + lnΓ(N−K+1) − ln C(N, n) computed once per cell."""
    low, high = np.maximum(0, draws - (big - good)), np.minimum(draws, good)
    const = special.gammaln(good + 1) + special.gammaln(big - good + 1) - _log_choose(big, draws)
    total = np.zeros(start.shape)
    active = np.flatnonzero((start >= low) & (start <= high))
    step = np.arange(_BLOCK, dtype=np.float64) * (1 if up else -1)
    offset = 0
    while active.size:
        k = start[active, None] + offset + step
        ok = (k >= low[active, None]) & (k <= high[active, None])
        k = np.where(ok, k, start[active, None])
        g, n = good[active, None], draws[active, None]
        log_pmf = const[active, None] - special.gammaln(k + 1) - special.gammaln(g - k + 1)
        log_pmf -= special.gammaln(n - k + 1) + special.gammaln(big[active, None] - g - n + k + 1)
        terms = np.where(ok, np.exp(log_pmf), 0.0)
        total[active] += terms.sum(axis=1)
        active = active[terms[:, -1] > 1e-17 * total[active]]
        offset += _BLOCK * (1 if up else -1)
    return total


def hypergeometric_sf(x: FloatArray, big: FloatArray, good: FloatArray, draws: FloatArray) -> FloatArray:
    """P(X ≥ x) for X ~ Hypergeometric(population ``big``, ``good`` successes in it, ``draws``):
    the one-sided Fisher exact test of a slice's x bad rows among its n = draws.

    The tail away from the mode is summed (above the mode: P(X ≥ x) directly; at or below:
    1 − P(X ≤ x − 1)), so the terms fall off and a cell needs ~ a few standard deviations of
    steps (√(n p(1 − p)) ≤ 500 at 1M rows); scipy.stats is not imported by the API process.
    """
    mode = np.floor((draws + 1) * (good + 1) / (big + 2))
    above = x > mode
    p = np.ones(x.shape)
    p[above] = _tail(x[above], big[above], good[above], draws[above], up=True)
    below = ~above
    p[below] = 1.0 - _tail(x[below] - 1, big[below], good[below], draws[below], up=False)
    return np.clip(np.nan_to_num(p, nan=1.0), 0.0, 1.0)


def _mae_tests(s: _Cells, total: _Cells) -> tuple[FloatArray, ...]:
    """(slice MAE, rest MAE, rest n, one-sided Welch p, SE of the gap)."""
    n_r = total.n - s.n
    with np.errstate(divide="ignore", invalid="ignore"):
        m_s, m_r = s.x / s.n, (total.x - s.x) / n_r
        v_s = np.maximum(s.sq - s.n * m_s**2, 0) / (s.n - 1) / s.n
        v_r = np.maximum(total.sq - s.sq - n_r * m_r**2, 0) / (n_r - 1) / n_r
        se = np.sqrt(v_s + v_r)
        t = np.where(se > 0, (m_s - m_r) / se, 0.0)
        df = (v_s + v_r) ** 2 / (v_s**2 / (s.n - 1) + v_r**2 / (n_r - 1))
        p = special.stdtr(np.nan_to_num(df, nan=1.0), -t)
    return m_s, m_r, n_r, np.nan_to_num(p, nan=1.0), se


def _wilson(x: float, n: float, z: float) -> tuple[float, float]:
    centre = (x + z * z / 2) / (n + z * z)
    half = z / (n + z * z) * np.sqrt(max(x * (n - x) / n, 0.0) + z * z / 4)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True, slots=True)
class _Candidate:
    block: tuple[int, ...]
    cell: int
    n: float
    x: float
    sq: float
    value: float
    rest_n: float
    rest_value: float
    p: float
    se: float


@dataclass(slots=True)
class _Scan:
    candidates: list[_Candidate]
    overall: _Cells | None
    # (column, cell) of every single column → its gap (slice − rest); NaN when untestable
    single_gaps: dict[tuple[int, int], float]


def _scan(plan: SlicePlan, counts: SliceCounts, task: str, metric: str, *, min_rows: int) -> _Scan:
    """Every cell of every block tested in one vectorised pass (the exact tails are the cost)."""
    blocks = plan.blocks
    if not blocks:
        return _Scan([], None, {})
    sizes = np.array([plan.block_cells(b) for b in blocks], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    values = np.asarray(counts.cells, dtype=np.float64).reshape(-1, plan.width)
    cells = _block_cells(task, metric, values)
    total = _Cells(*(np.repeat(np.add.reduceat(a, starts), sizes) for a in (cells.n, cells.x, cells.sq)))
    tested = (cells.n >= min_rows) & (total.n - cells.n >= min_rows)
    kept = _Cells(cells.n[tested], cells.x[tested], cells.sq[tested])
    kept_total = _Cells(total.n[tested], total.x[tested], total.sq[tested])
    tests = _mae_tests(kept, kept_total) if task == "regression" else _rate_tests(kept, kept_total)
    value, rest, rest_n, p, se = (t.tolist() for t in tests)
    owner = np.repeat(np.arange(len(blocks)), sizes)[tested].tolist()
    position = (np.flatnonzero(tested) - starts[np.repeat(np.arange(len(blocks)), sizes)][tested]).tolist()
    n, x, sq = kept.n.tolist(), kept.x.tolist(), kept.sq.tolist()
    candidates = [
        _Candidate(blocks[o], c, n[i], x[i], sq[i], value[i], rest_n[i], rest[i], p[i], se[i])
        for i, (o, c) in enumerate(zip(owner, position, strict=True))
    ]
    overall = _Cells(total.n[:1], total.x[:1], total.sq[:1])
    return _Scan(candidates, overall, _single_gaps(plan, cells, total, sizes))


def _single_gaps(
    plan: SlicePlan, cells: _Cells, total: _Cells, sizes: npt.NDArray[np.int64]
) -> dict[tuple[int, int], float]:
    """(column, cell) → slice − rest of every single column's cells (NaN when a side is empty)."""
    singles = int(sizes[: len(plan.columns)].sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        value = cells.x[:singles] / cells.n[:singles]
        rest = (total.x[:singles] - cells.x[:singles]) / (total.n[:singles] - cells.n[:singles])
    gaps = (value - rest).tolist()
    column = np.repeat(np.arange(len(plan.columns)), sizes[: len(plan.columns)]).tolist()
    offsets = np.concatenate([[0], np.cumsum(sizes[: len(plan.columns)])[:-1]])
    return {(c, i - int(offsets[c])): g for i, (c, g) in enumerate(zip(column, gaps, strict=True))}


def _cell_codes(plan: SlicePlan, block: tuple[int, ...], cell: int) -> list[int]:
    codes = []
    for index in reversed(block):  # mixed radix, the last column varies fastest
        size = len(plan.columns[index].cells)
        codes.append(cell % size)
        cell //= size
    return codes[::-1]


def _beats_parents(plan: SlicePlan, scan: _Scan, block: tuple[int, ...], cell: int, gap: float) -> bool:
    """A pair is worth naming only when it is surely worse than each of its columns alone
    (``gap`` is the pair's lower confidence bound)."""
    codes = _cell_codes(plan, block, cell)
    parents = [scan.single_gaps.get((index, code), np.nan) for index, code in zip(block, codes, strict=True)]
    return all(not gap <= g for g in parents)  # a NaN parent gap never vetoes


def _names(plan: SlicePlan, block: tuple[int, ...], cell: int) -> tuple[tuple[str, str, str], ...]:
    named = []
    for index, code in zip(block, _cell_codes(plan, block, cell), strict=True):
        column = plan.columns[index]
        named.append((column.kind, column.name, column.cells[code]))
    return tuple(named)


def _finding(
    plan: SlicePlan, c: _Candidate, task: str, metric: str, p: float, q: float, confidence: float
) -> SliceFinding:
    z2 = z_value(confidence)
    z1 = z_value(2 * confidence - 1)  # one-sided at the same level
    if task == "regression":
        half = z2 * np.sqrt(max(c.sq - c.n * c.value**2, 0) / (c.n - 1) / c.n)
        low, high = c.value - half, c.value + half
    else:
        low, high = _wilson(c.x, c.n, z2)
    gap = c.value - c.rest_value
    value, rest = c.value, c.rest_value
    if metric == "tpr":  # the miss rate was tested; report TPR itself
        value, rest, low, high = 1 - value, 1 - rest, 1 - high, 1 - low
    return SliceFinding(
        cells=_names(plan, c.block, c.cell),
        n=int(c.n),
        value=float(value),
        low=float(low),
        high=float(high),
        rest_n=int(c.rest_n),
        rest_value=float(rest),
        gap=float(gap),
        gap_low=float(gap - z1 * c.se),
        p_value=p,
        q_value=q,
    )


def _named(plan: SlicePlan, scan: _Scan, c: _Candidate, z1: float) -> bool:
    """A discovery worse than the rest; a pair only when it beats both its parents."""
    if c.value <= c.rest_value:
        return False
    return len(c.block) == 1 or _beats_parents(
        plan, scan, c.block, c.cell, c.value - c.rest_value - z1 * c.se
    )


def _overall(overall: _Cells | None, metric: str) -> tuple[int, float | None]:
    """The window's rows in the metric's denominator and its value over all of them."""
    n = 0 if overall is None else int(overall.n[0])
    if overall is None or n == 0:
        return n, None
    value = float(overall.x[0] / n)
    return n, 1 - value if metric == "tpr" else value


def search_slices(
    plan: SlicePlan,
    counts: SliceCounts,
    *,
    task: str,
    metric: str,
    fdr: float = 0.05,
    confidence: float = 0.95,
    min_rows: int = 30,
) -> SliceSearch:
    """Test every cell against the rest, control the FDR across all of them, rank the discoveries."""
    tasks, _ = METRICS[metric]
    if task not in tasks:
        raise ValueError(f"metric {metric!r} does not apply to {task}")
    if counts.width != plan.width or len(counts.cells) != plan.size:
        raise ValueError("slice counts do not match the plan")
    if not 0.5 < confidence < 1 or not 0 < fdr < 1:
        raise ValueError("need 0.5 < confidence < 1 and 0 < fdr < 1")
    scan = _scan(plan, counts, task, metric, min_rows=min_rows)
    candidates, overall = scan.candidates, scan.overall
    p_values = [float(c.p) for c in candidates]
    q_values = benjamini_hochberg(p_values)
    z1 = z_value(2 * confidence - 1)  # one-sided at ``confidence``
    kept = [
        _finding(plan, c, task, metric, p, q, confidence)
        for c, p, q in zip(candidates, p_values, q_values, strict=True)
        if q is not None and q < fdr and _named(plan, scan, c, z1)
    ]
    n, value = _overall(overall, metric)
    return SliceSearch(
        metric=metric,
        n=n,
        value=value,
        tested=len(candidates),
        fdr=fdr,
        confidence=confidence,
        findings=tuple(sorted(kept, key=lambda f: -f.gap_low)),
    )
