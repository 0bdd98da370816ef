"""Numeric bins of the reference layout: quantile bins, or one cell per value for discrete columns.

A numeric column is *discrete* when its reference has at most ``bins`` (100) distinct finite
values and at most 1 % of its values are singletons. One cell per value then costs no more
than the 100 fine bins of a continuous column, and the singleton share is the Good-Turing
estimate of the probability that a new draw takes a value the reference never showed: at
≤ 1 % the reference grid covers the law. A continuous sample (every value distinct) fails
the rule at any size, so a small continuous reference is never mistaken for a discrete one.

Continuous columns keep 100 quantile bins (see ``fit_numeric``). Discrete columns get the
cells (below the reference minimum, v_0, v_1, …, v_{k−1}, above the reference maximum),
cell of v_i = [v_i, v_{i+1}): the reference mass sits on the *left* edge of its cell, so
the window's CDF and the reference's are both flat inside a cell whenever the window's
values lie on the grid, and KS and Wasserstein computed from cell counts are exact. With
edges at midpoints instead, the CDF difference can change sign at v_i inside a cell and
the binned Wasserstein would miss up to half of the true distance (0.2 instead of 0.4
for reference (½, 0, ½) and window (0.3, 0.4, 0.3) on the values 0, 1, 2).

``MAX_MAGNITUDE`` = 1e50 is the largest |x| a profile accumulates; beyond it a value is
missing. Then x² ≤ 1e100 and x⁴ ≤ 1e200 (the regression Σe⁴, e ≤ 2e50: ≤ 1.6e201), so sums
over 10^10 rows stay below 1.6e211, far from float64's 1.8e308; and no measured quantity
comes near it (Avogadro's number is 6e23, world GDP in cents ~1e16).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

MAX_MAGNITUDE = 1e50
# Good-Turing: singletons / n estimates the mass of values the reference never showed.
DISCRETE_MAX_SINGLETON_SHARE = 0.01


def representable(values: FloatArray) -> BoolArray:
    """|x| ≤ ``MAX_MAGNITUDE`` per value: False for NaN, ±inf and larger magnitudes."""
    usable: BoolArray = np.abs(values) <= MAX_MAGNITUDE
    return usable


@dataclass(frozen=True, slots=True, eq=False)
class BinnedValues:
    """A numeric column's representable values and the bin of each (``NumericBins.index``).

    Binning is the costliest step of a profile (a binary search over ~100 edges per value:
    ~1.0 s of CPU per 10^6 rows of 15 features, a third of the profile); a profile bins each
    column once and its summary and its slice cells share the result."""

    rows: int
    keep: BoolArray | None  # the representable rows; None when every row is
    values: FloatArray  # the representable values, in row order
    index: IntArray  # the bin of each of ``values``

    def row_bins(self) -> IntArray:
        """The bin of every row, −1 where the value is missing."""
        if self.keep is None:
            return self.index
        out = np.full(self.rows, -1, dtype=np.int64)
        out[self.keep] = self.index
        return out


def usable_values(values: FloatArray | None) -> FloatArray:
    """The representable values of a column as float64 (the rest is missing)."""
    if values is None:
        return np.empty(0, dtype=np.float64)
    x = np.asarray(values, dtype=np.float64)
    keep = representable(x)
    return x if keep.all() else x[keep]


@dataclass(frozen=True, slots=True)
class NumericBins:
    """Bins of one numeric column, fitted on the reference.

    Continuous (``discrete`` false): ``edges`` at reference quantiles, ``edges[0]`` /
    ``edges[-1]`` the reference minimum / maximum; bin i is [edges[i], edges[i+1]), the last
    bin closed; values outside the reference range go to the edge bins (and are counted as
    out of range by the profile). ``coarse`` lists indices into ``edges`` of the coarser
    bins used by PSI, Jensen-Shannon and Hellinger (deciles by default); the fine bins serve
    KS and Wasserstein.

    Discrete: ``edges`` are the k distinct reference values v_0 < … < v_{k−1} and the profile
    holds k + 2 cells: 0 = below v_0, i + 1 = [v_i, v_{i+1}) (the last value alone), k + 1 =
    above v_{k−1}. ``coarse`` lists cell boundaries (indices 0…k + 2). Serialised with
    ``"discrete": true``; the key is absent for continuous bins, so their JSON (and every
    stored layout's hash) is unchanged.

    ``center`` (the reference median) shifts the profile's sum of squares for precision.
    """

    name: str
    edges: tuple[float, ...]
    coarse: tuple[int, ...]
    center: float
    discrete: bool = False
    _edges: FloatArray = field(init=False, repr=False, compare=False)
    _anchors: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.discrete:
            if not self.edges or any(b <= a for a, b in pairwise(self.edges)):
                raise ValueError(f"{self.name}: discrete values must be increasing, at least one")
        elif len(self.edges) < 2 or any(b < a for a, b in pairwise(self.edges)):
            raise ValueError(f"{self.name}: edges must be non-decreasing with at least two values")
        if self.coarse[0] != 0 or self.coarse[-1] != self.bins:
            raise ValueError(f"{self.name}: coarse bins must span all edges")
        edges = np.asarray(self.edges, dtype=np.float64)
        edges.flags.writeable = False
        object.__setattr__(self, "_edges", edges)  # converted once, not on every profile build
        anchors = np.concatenate([edges[:1], edges, edges[-1:]]) if self.discrete else edges
        anchors.flags.writeable = False
        object.__setattr__(self, "_anchors", anchors)

    @property
    def anchors(self) -> FloatArray:
        """Discrete: the value each cell's sums are taken from (v_0, v_0…v_{k−1}, v_{k−1})."""
        return self._anchors

    @property
    def bins(self) -> int:
        """Number of counts a profile holds: fine bins, or k + 2 cells when discrete."""
        return len(self.edges) + 2 if self.discrete else len(self.edges) - 1

    def index(self, values: FloatArray) -> IntArray:
        """Bin (or cell) index of each finite value.

        Continuous: edge bins absorb out-of-range values. Discrete: 0 below the minimum,
        i + 1 for v_i ≤ x < v_{i+1}, k for x = v_{k−1}, k + 1 above the maximum.
        """
        idx = np.searchsorted(self._edges, values, side="right").astype(np.int64, copy=False)
        if self.discrete:
            idx[values > self._edges[-1]] = self._edges.size + 1
            return idx
        idx -= 1
        np.maximum(idx, 0, out=idx)  # ufuncs with out=: np.clip's wrapper costs ~20 µs a call
        np.minimum(idx, self._edges.size - 2, out=idx)
        return idx

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "edges": list(self.edges),
            "coarse": list(self.coarse),
            "center": self.center,
        }
        if self.discrete:
            out["discrete"] = True
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NumericBins:
        edges = tuple(float(e) for e in data["edges"])
        coarse = tuple(int(i) for i in data["coarse"])
        return cls(data["name"], edges, coarse, float(data["center"]), bool(data.get("discrete", False)))


def is_discrete(counts: IntArray, *, max_values: int) -> bool:
    """At most ``max_values`` distinct values, of which at most 1 % of the rows are singletons."""
    singletons = int(np.count_nonzero(counts == 1))
    return 0 < counts.size <= max_values and singletons <= DISCRETE_MAX_SINGLETON_SHARE * counts.sum()


def _discrete_coarse(counts: IntArray, coarse_bins: int) -> tuple[int, ...]:
    """Cell boundaries grouping the value cells at the reference's k/coarse_bins quantiles.

    The below and above cells stay alone; with at most ``coarse_bins`` values every cell is
    its own coarse bin.
    """
    k = counts.size
    if k <= coarse_bins:
        return tuple(range(k + 3))
    cumulative = np.cumsum(counts) / counts.sum()
    cuts = np.searchsorted(cumulative, np.arange(1, coarse_bins) / coarse_bins) + 2
    bounds = {0, 1, k + 1, k + 2} | {int(c) for c in np.clip(cuts, 1, k + 1)}
    return tuple(sorted(bounds))


def fit_numeric(name: str, values: FloatArray, *, bins: int = 100, coarse_bins: int = 10) -> NumericBins:
    """Discrete cells when the rule of the module docstring holds, else quantile bins.

    Quantile bins: edges at the reference quantiles k/bins (duplicates from ties removed);
    the coarse edges are the quantiles at k/coarse_bins of the same array, so they are a
    subset of the fine edges (bins must be a multiple of coarse_bins). 100 fine bins keep
    the binned KS within ~1 % of the exact one on continuous data (docs/statistics.md);
    10 coarse bins keep PSI's small-sample bias, ≈ (bins − 1)(1/n_ref + 1/n_win), low.
    Values beyond ``MAX_MAGNITUDE`` (and NaN, ±inf) are ignored, as profiles ignore them.
    """
    if bins % coarse_bins:
        raise ValueError("bins must be a multiple of coarse_bins")
    x = usable_values(values)
    if x.size == 0:
        return NumericBins(name, (0.0, 0.0), (0, 1), 0.0)
    distinct, counts = np.unique(x, return_counts=True)
    if is_discrete(counts, max_values=bins):
        grid = tuple(float(v) for v in distinct)
        return NumericBins(name, grid, _discrete_coarse(counts, coarse_bins), float(np.median(x)), True)
    quantiles = np.quantile(x, np.linspace(0.0, 1.0, bins + 1))
    fine = np.unique(quantiles)
    if fine.size == 1:
        return NumericBins(name, (float(fine[0]),) * 2, (0, 1), float(fine[0]))
    coarse = np.searchsorted(fine, np.unique(quantiles[:: bins // coarse_bins]))
    edges = tuple(float(e) for e in fine)
    return NumericBins(name, edges, tuple(int(i) for i in coarse), float(np.median(x)))


def bin_values(bins: NumericBins, values: FloatArray | None) -> BinnedValues | None:
    """The representable values of a column and their bins; None for an absent column."""
    if values is None:
        return None
    column = np.asarray(values, dtype=np.float64)
    keep = representable(column)
    if keep.all():
        return BinnedValues(column.size, None, column, bins.index(column))
    x = column[keep]
    return BinnedValues(column.size, keep, x, bins.index(x))
