"""Per-column summaries of a profile: numeric, categorical, attribution; builders and merges.

Every float a summary accumulates comes from values with |x| ≤ ``MAX_MAGNITUDE`` (1e50;
beyond it a value counts as missing, like NaN and ±inf), so its sums stay finite for any
number of rows a model can send (``bins.py`` gives the arithmetic).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TypeVar

import numpy as np

from service.stats.bins import BinnedValues, BoolArray, IntArray, NumericBins, bin_values, representable
from service.stats.layout import FloatArray, Labels, Vocabulary
from service.stats.outcomes import stack_sum

_N = TypeVar("_N", int, float)


def add_tuples(left: tuple[_N, ...], right: tuple[_N, ...]) -> tuple[_N, ...]:
    if len(left) != len(right):
        raise ValueError(f"cannot merge {len(left)} bins with {len(right)} bins")
    return tuple(map(operator.add, left, right))


def _extreme(fn: Callable[[float, float], float], a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return fn(a, b)


@dataclass(frozen=True, slots=True)
class NumericSummary:
    """One numeric column over a batch.

    ``count`` representable values and ``missing`` others (NaN, ±inf, |x| > 1e50; count +
    missing = rows); ``bins`` counts values per layout bin (continuous layouts: edge bins
    include out-of-range values; discrete layouts: the cells below, at each value, above)
    and ``bin_sums`` sums them per bin (bin means make binned Wasserstein near-exact); for
    a discrete layout ``bin_sums`` holds Σ(x − a) with a the cell's anchor (v_0 for the
    below cell, v_i for v_i's cell, v_{k−1} above): exactly 0 for a cell whose values all
    equal its value (x − a = 0 only when x = a in IEEE arithmetic), so the profile knows
    which cells hold off-grid values, and the out-of-range integrals need no cancellation;
    ``below`` / ``above`` count values under the reference minimum / over its maximum;
    ``total`` = Σx and ``total_sq`` = Σ(x − center)² with the layout's fixed ``center``
    (the shift keeps the variance accurate when |mean| ≫ std); ``minimum`` / ``maximum``
    are None when count = 0. ``lost_sums`` is true when a merged part was stored with
    unrepresentable (null) sums, before values were capped: its counts are exact but its
    float sums were dropped, so mean, variance and Wasserstein are unknown (None).
    Units: those of the column (``total_sq``: squared).
    """

    count: int
    missing: int
    bins: tuple[int, ...]
    bin_sums: tuple[float, ...]
    below: int
    above: int
    total: float
    total_sq: float
    minimum: float | None
    maximum: float | None
    center: float
    lost_sums: bool = False

    @classmethod
    def empty(cls, layout: NumericBins, *, missing: int = 0) -> NumericSummary:
        return cls(
            0, missing, (0,) * layout.bins, (0.0,) * layout.bins, 0, 0, 0.0, 0.0, None, None, layout.center
        )

    @property
    def mean(self) -> float | None:
        if not self.count or self.lost_sums:
            return None
        value = self.total / self.count
        return value if math.isfinite(value) else None

    @property
    def variance(self) -> float | None:
        """Population variance, Σ(x − c)²/n − (mean − c)²  (clipped at 0 against rounding);
        None when there is no value or the sums are lost."""
        if not self.count or self.lost_sums:
            return None
        shifted_mean = self.total / self.count - self.center
        value = max(self.total_sq / self.count - shifted_mean * shifted_mean, 0.0)
        return value if math.isfinite(value) else None

    def merge(self, other: NumericSummary) -> NumericSummary:
        if self.center != other.center:
            raise ValueError("cannot merge numeric summaries fitted with different centres")
        return NumericSummary(
            self.count + other.count,
            self.missing + other.missing,
            add_tuples(self.bins, other.bins),
            add_tuples(self.bin_sums, other.bin_sums),
            self.below + other.below,
            self.above + other.above,
            self.total + other.total,
            self.total_sq + other.total_sq,
            _extreme(min, self.minimum, other.minimum),
            _extreme(max, self.maximum, other.maximum),
            self.center,
            self.lost_sums or other.lost_sums,
        )


@dataclass(frozen=True, slots=True)
class CategoricalSummary:
    """One string column over a batch.

    ``counts`` has one entry per vocabulary value and a last "other" entry (reference
    values outside the top-K plus unseen values); ``unseen`` counts values never seen in
    the reference (a subset of "other"); ``count`` non-missing values, ``missing`` None or NaN.
    """

    count: int
    missing: int
    counts: tuple[int, ...]
    unseen: int

    @classmethod
    def empty(cls, vocabulary: Vocabulary, *, missing: int = 0) -> CategoricalSummary:
        return cls(0, missing, (0,) * (len(vocabulary.values) + 1), 0)

    def merge(self, other: CategoricalSummary) -> CategoricalSummary:
        return CategoricalSummary(
            self.count + other.count,
            self.missing + other.missing,
            add_tuples(self.counts, other.counts),
            self.unseen + other.unseen,
        )


@dataclass(frozen=True, slots=True)
class AttributionSummary:
    """Σ|attribution| (``abs_sum``, units of the model output) over ``count`` rows carrying one."""

    count: int = 0
    abs_sum: float = 0.0

    @property
    def mean_abs(self) -> float | None:
        return self.abs_sum / self.count if self.count else None

    def merge(self, other: AttributionSummary) -> AttributionSummary:
        return AttributionSummary(self.count + other.count, self.abs_sum + other.abs_sum)


def sum_numeric(items: Sequence[NumericSummary]) -> NumericSummary:
    """Merge many numeric summaries at once (same result as folding ``merge``)."""
    if any(i.center != items[0].center for i in items):
        raise ValueError("cannot merge numeric summaries fitted with different centres")
    lows = [i.minimum for i in items if i.minimum is not None]
    highs = [i.maximum for i in items if i.maximum is not None]
    return NumericSummary(
        count=sum(i.count for i in items),
        missing=sum(i.missing for i in items),
        bins=stack_sum([i.bins for i in items]),
        bin_sums=stack_sum([i.bin_sums for i in items]),
        below=sum(i.below for i in items),
        above=sum(i.above for i in items),
        total=sum(i.total for i in items),
        total_sq=sum(i.total_sq for i in items),
        minimum=min(lows) if lows else None,
        maximum=max(highs) if highs else None,
        center=items[0].center,
        lost_sums=any(i.lost_sums for i in items),
    )


def sum_categorical(items: Sequence[CategoricalSummary]) -> CategoricalSummary:
    return CategoricalSummary(
        sum(i.count for i in items),
        sum(i.missing for i in items),
        stack_sum([i.counts for i in items]),
        sum(i.unseen for i in items),
    )


def summarize_numeric(bins: NumericBins, values: FloatArray | None, *, rows: int) -> NumericSummary:
    """Summarise one numeric column (NaN, ±inf and |x| > 1e50 count as missing)."""
    return summarize_binned(bins, bin_values(bins, values), rows=rows)


def summarize_binned(bins: NumericBins, binned: BinnedValues | None, *, rows: int) -> NumericSummary:
    """``summarize_numeric`` of a column already binned (``bins.bin_values``)."""
    if binned is None or binned.values.size == 0:
        return NumericSummary.empty(bins, missing=rows)
    x, index = binned.values, binned.index
    counts = np.bincount(index, minlength=bins.bins)
    sums = np.bincount(index, weights=x - bins.anchors[index] if bins.discrete else x, minlength=bins.bins)
    shifted = x - bins.center
    return NumericSummary(
        count=int(x.size),
        missing=rows - int(x.size),
        bins=tuple(counts.tolist()),
        bin_sums=tuple(sums.tolist()),
        below=int(np.count_nonzero(x < bins.edges[0])),
        above=int(np.count_nonzero(x > bins.edges[-1])),
        total=float(x.sum()),
        total_sq=float(np.dot(shifted, shifted)),
        minimum=float(x.min()),
        maximum=float(x.max()),
        center=bins.center,
    )


def summarize_categorical(vocabulary: Vocabulary, values: Labels | None, *, rows: int) -> CategoricalSummary:
    """Summarise one string column (None and NaN are missing; other and unseen share the last count)."""
    if values is None:
        return CategoricalSummary.empty(vocabulary, missing=rows)
    k = len(vocabulary.values)
    counts = np.bincount(vocabulary.codes(values), minlength=k + 3)
    present = counts[: k + 2]
    merged = (*present[:k].tolist(), int(present[k] + present[k + 1]))
    return CategoricalSummary(int(present.sum()), int(counts[k + 2]), merged, int(counts[k + 1]))


def summarize_attribution(values: FloatArray) -> AttributionSummary:
    """Σ|attribution| over the representable values (|x| ≤ 1e50)."""
    column = np.asarray(values, dtype=np.float64)
    keep = representable(column)
    return AttributionSummary(int(keep.sum()), float(np.abs(column[keep]).sum()))


# ------------------------------------------------------------------ many parts at once
# A pass folds ~30-750 bucket profiles; calling the kernels above once per bucket and column
# cost ~5 ms of Python per bucket (~40 numpy calls of ~100 µs overhead each). The builders
# below summarise every bucket of a batch at once: counts and bin sums in one ``bincount``
# over (part × bin), and the float totals of each part from a slice of the part-ordered
# column, so every field equals what the one-part builder gives for that part's rows alone
# (``np.bincount`` adds each cell's weights in row order; a slice sums as the copy would).


@dataclass(frozen=True, slots=True)
class Parts:
    """Consecutive row ranges of a batch: part i is rows [bounds[i], bounds[i + 1])."""

    bounds: IntArray

    @classmethod
    def of(cls, bounds: Sequence[int]) -> Parts:
        edges = np.asarray(bounds, dtype=np.int64)
        if edges.size < 2 or edges[0] != 0 or (np.diff(edges) < 0).any():
            raise ValueError("part bounds must start at 0 and never decrease")
        return cls(edges)

    @property
    def count(self) -> int:
        return int(self.bounds.size - 1)

    @property
    def sizes(self) -> IntArray:
        sizes: IntArray = np.diff(self.bounds)
        return sizes

    @property
    def rows(self) -> int:
        return int(self.bounds[-1])

    def index(self) -> IntArray:
        """The part of each row."""
        return np.repeat(np.arange(self.count, dtype=np.int64), self.sizes)

    def ranges(self) -> list[tuple[int, int]]:
        """(start, stop) of each part."""
        edges = self.bounds.tolist()
        return list(pairwise(edges))

    def within(self, keep: BoolArray) -> Parts:
        """The parts of the rows where ``keep`` holds (still in order, so still consecutive)."""
        kept = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
        return Parts(kept[self.bounds])


def _segment_sums(values: FloatArray, parts: Parts) -> list[float]:
    """Σ of each part's values, summed as ``values[a:b].sum()`` (numpy's pairwise sum)."""
    return [float(values[a:b].sum()) for a, b in parts.ranges()]


def _segment_squares(values: FloatArray, parts: Parts) -> list[float]:
    """Σv² of each part's values, as ``np.dot(v, v)`` of the part alone."""
    return [float(np.dot(values[a:b], values[a:b])) for a, b in parts.ranges()]


def _extremes(x: FloatArray, parts: Parts, counts: IntArray) -> tuple[list[float | None], list[float | None]]:
    """Minimum and maximum of each part's values (None where it has none)."""
    lows: list[float | None] = [None] * parts.count
    highs: list[float | None] = [None] * parts.count
    filled = np.flatnonzero(counts)
    if filled.size:
        # Empty parts have no length, so each filled part's segment ends where the next begins.
        starts = parts.bounds[filled]
        low, high = np.minimum.reduceat(x, starts).tolist(), np.maximum.reduceat(x, starts).tolist()
        for i, part in enumerate(filled.tolist()):
            lows[part], highs[part] = low[i], high[i]
    return lows, highs


def numeric_by_part(bins: NumericBins, values: FloatArray | None, parts: Parts) -> list[NumericSummary]:
    """``summarize_numeric`` of each part's rows, in one pass over the column."""
    return binned_by_part(bins, bin_values(bins, values), parts)


def binned_by_part(bins: NumericBins, binned: BinnedValues | None, parts: Parts) -> list[NumericSummary]:
    """``numeric_by_part`` of a column already binned (``bins.bin_values``)."""
    sizes = parts.sizes.tolist()
    if binned is None:
        return [NumericSummary.empty(bins, missing=n) for n in sizes]
    x, index = binned.values, binned.index
    kept = parts if binned.keep is None else parts.within(binned.keep)
    part = kept.index()
    key, cells = part * bins.bins + index, (parts.count, bins.bins)
    histogram = np.bincount(key, minlength=parts.count * bins.bins).reshape(cells).tolist()
    weights = x - bins.anchors[index] if bins.discrete else x
    sums = np.bincount(key, weights=weights, minlength=parts.count * bins.bins).reshape(cells).tolist()
    below = np.bincount(part[x < bins.edges[0]], minlength=parts.count).tolist()
    above = np.bincount(part[x > bins.edges[-1]], minlength=parts.count).tolist()
    totals, squares = _segment_sums(x, kept), _segment_squares(x - bins.center, kept)
    counts = kept.sizes
    lows, highs = _extremes(x, kept, counts)
    return [
        NumericSummary(
            n,
            sizes[i] - n,
            tuple(histogram[i]),
            tuple(sums[i]),
            below[i],
            above[i],
            totals[i],
            squares[i],
            lows[i],
            highs[i],
            bins.center,
        )
        if n
        else NumericSummary.empty(bins, missing=sizes[i])
        for i, n in enumerate(counts.tolist())
    ]


def categorical_by_part(
    vocabulary: Vocabulary, values: Labels | None, parts: Parts
) -> list[CategoricalSummary]:
    """``summarize_categorical`` of each part's rows, in one pass over the column."""
    if values is None:
        return [CategoricalSummary.empty(vocabulary, missing=n) for n in parts.sizes.tolist()]
    width = len(vocabulary.values) + 3  # values, other-known, unseen, missing
    k = width - 3
    key = parts.index() * width + vocabulary.codes(values)
    cells = np.bincount(key, minlength=parts.count * width).reshape(parts.count, width).tolist()
    return [CategoricalSummary(sum(c[: k + 2]), c[k + 2], (*c[:k], c[k] + c[k + 1]), c[k + 1]) for c in cells]


def attributions_by_part(values: FloatArray, parts: Parts) -> list[AttributionSummary]:
    """``summarize_attribution`` of each part's rows."""
    column = np.asarray(values, dtype=np.float64)
    keep = representable(column)
    kept = parts.within(keep)
    magnitudes = np.abs(column[keep])
    return [
        AttributionSummary(n, total)
        for n, total in zip(kept.sizes.tolist(), _segment_sums(magnitudes, kept), strict=True)
    ]
