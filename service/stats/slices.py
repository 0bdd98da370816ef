"""Per-slice outcome counts: the mergeable input of the failing-slice search.

A *slice column* is a way to cut the rows into cells fixed by the layout: a protected
attribute (its groups: top values, "(other)", "(missing)"), a categorical feature (its
vocabulary codes: top values, other, unseen, missing) or a numeric feature (the layout's
coarse bins, deciles of the reference by default, plus a "(missing)" cell). A *pair* is
two columns crossed, cell by cell. ``SliceCounts`` holds, for every cell of every single
column and of every kept pair, a few additive numbers over the labelled rows with a
prediction (``WIDTH``):

- binary classification: tp, fp, fn, tn (4);
- multiclass classification: correct, wrong (2);
- regression: rows, Σ|ŷ − y|, Σ(ŷ − y)² (3).

Everything is a sum over rows, so ``merge`` is element-wise addition (associative,
commutative, ``empty_slices(layout)`` the identity) and a late label's change is the
counts of the newly labelled rows themselves (unlabelled rows count nowhere).

Bounded size: singles cost Σ cells (a numeric column 11, a categorical one K + 3, an
attribute K + 2); pairs are taken in a fixed order — attribute × attribute, attribute ×
feature, then feature × feature — and a pair is kept while the pair cells stay within
``MAX_PAIR_CELLS`` (1,024). With 15 numeric and 5 categorical features and two attributes
that is ~280 single cells and 1,024 pair cells at most, ≤ 5,300 numbers a profile
(binary), ~10 kB of JSON before compression, most of it zeros in a minute bucket.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from service.kernel.coded import per_value
from service.stats.bins import BinnedValues, bin_values, representable
from service.stats.layout import MISSING, Batch, FloatArray, IntArray, Labels, Layout, NumericBins, Vocabulary
from service.stats.outcomes import absent, equals

Kind = Literal["attribute", "categorical", "numeric"]
MAX_PAIR_CELLS = 1024
WIDTH = {"binary_classification": 4, "multiclass_classification": 2, "regression": 3}
_BoolArray = npt.NDArray[np.bool_]
# Every numeric column of a layout, binned once per profile (``bins.bin_values``).
Binned = Mapping[str, BinnedValues | None]


@dataclass(frozen=True, slots=True)
class SliceColumn:
    """One way to cut rows into cells; ``cells`` names each cell in code order."""

    kind: Kind
    name: str
    cells: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SlicePlan:
    """The columns, the kept pairs (indices into ``columns``) and where each block starts."""

    columns: tuple[SliceColumn, ...]
    pairs: tuple[tuple[int, int], ...]
    width: int

    @property
    def blocks(self) -> tuple[tuple[int, ...], ...]:
        """Each block's columns: the singles, then the pairs."""
        return tuple((i,) for i in range(len(self.columns))) + self.pairs

    def block_cells(self, block: Sequence[int]) -> int:
        size = 1
        for index in block:
            size *= len(self.columns[index].cells)
        return size

    @property
    def size(self) -> int:
        """Numbers a ``SliceCounts`` of this plan holds."""
        return sum(self.block_cells(b) for b in self.blocks) * self.width


@dataclass(frozen=True, slots=True)
class SliceCounts:
    """``width`` numbers per cell, blocks in ``SlicePlan.blocks`` order, flattened."""

    width: int
    cells: tuple[float, ...]

    def merge(self, other: SliceCounts) -> SliceCounts:
        if self.width != other.width or len(self.cells) != len(other.cells):
            raise ValueError("cannot merge slice counts of different plans")
        return SliceCounts(self.width, tuple(a + b for a, b in zip(self.cells, other.cells, strict=True)))


def _numeric_cells(bins: NumericBins) -> tuple[str, ...]:
    anchors = bins.anchors if bins.discrete else np.asarray(bins.edges)
    names = []
    last = len(bins.coarse) - 2
    for i, (low, high) in enumerate(zip(bins.coarse[:-1], bins.coarse[1:], strict=True)):
        a, b = float(anchors[low]), float(anchors[min(high, len(anchors) - 1)])
        if bins.discrete:
            b = float(anchors[high - 1])
            names.append(f"{a:.6g}" if a == b else f"[{a:.6g}, {b:.6g}]")
        elif i == 0:
            names.append(f"< {b:.6g}")
        elif i == last:
            names.append(f">= {a:.6g}")
        else:
            names.append(f"[{a:.6g}, {b:.6g})")
    return (*names, MISSING)


def _categorical_cells(vocabulary: Vocabulary) -> tuple[str, ...]:
    return (*vocabulary.values, "(other)", "(unseen)", MISSING)


def plan_of(layout: Layout) -> SlicePlan:
    """The layout's slice columns and the pairs kept within ``MAX_PAIR_CELLS``."""
    attributes = [SliceColumn("attribute", v.name, v.group_names) for v in layout.attributes]
    features: list[SliceColumn] = [
        SliceColumn("categorical", v.name, _categorical_cells(v)) for v in layout.categorical
    ]
    features += [SliceColumn("numeric", b.name, _numeric_cells(b)) for b in layout.numeric]
    columns = (*attributes, *features)
    a = len(attributes)
    ordered = [(i, j) for i in range(a) for j in range(i + 1, a)]
    ordered += [(i, j) for i in range(a) for j in range(a, len(columns))]
    ordered += [(i, j) for i in range(a, len(columns)) for j in range(i + 1, len(columns))]
    pairs, used = [], 0
    for i, j in ordered:
        cells = len(columns[i].cells) * len(columns[j].cells)
        if used + cells <= MAX_PAIR_CELLS:
            pairs.append((i, j))
            used += cells
    return SlicePlan(columns, tuple(pairs), WIDTH[layout.task])


def _zeros(plan: SlicePlan, task: str) -> SliceCounts:
    """No rows: integer counts, or float sums for regression (so a profile's bytes are the
    same whichever way it was built)."""
    zero: float = 0.0 if task == "regression" else 0
    return SliceCounts(plan.width, (zero,) * plan.size)


def empty_slices(layout: Layout) -> SliceCounts:
    return _zeros(plan_of(layout), layout.task)


def coarse_table(bins: NumericBins) -> IntArray:
    """The coarse cell of each fine bin (or discrete cell), then the missing cell: indexed
    by a row's bin (``BinnedValues.row_bins``, −1 for missing: the last entry). Coarse
    boundaries are fine bin boundaries, so a value's coarse cell is its fine bin's; the
    edge bins keep absorbing out-of-range values. A gather per row instead of a second
    search over the coarse edges (the slice cells of 10^6 rows of 15 numeric features took
    0.50 s of CPU against 0.79 s)."""
    coarse = np.asarray(bins.coarse)
    cells = np.searchsorted(coarse, np.arange(bins.bins), side="right") - 1
    table: IntArray = np.append(cells, coarse.size - 1).astype(np.int64)
    return table


def _codes(
    layout: Layout, column: SliceColumn, batch: Batch, keep: _BoolArray, binned: Binned | None
) -> IntArray:
    """Cell code of every kept row for one column."""
    rows = int(keep.sum())
    if column.kind == "numeric":
        bins = next(b for b in layout.numeric if b.name == column.name)
        found = (
            binned[column.name] if binned is not None else bin_values(bins, batch.numeric.get(column.name))
        )
        if found is None:
            return np.full(rows, len(column.cells) - 1, dtype=np.int64)
        cells: IntArray = coarse_table(bins)[found.row_bins()[keep]]
        return cells
    if column.kind == "categorical":
        vocabulary = next(v for v in layout.categorical if v.name == column.name)
        labels = batch.categorical.get(column.name)
        if labels is None:
            return np.full(rows, vocabulary.missing, dtype=np.int64)
        return vocabulary.codes(labels)[keep]
    vocabulary = next(v for v in layout.attributes if v.name == column.name)
    labels = batch.attributes.get(column.name)
    if labels is None:
        return np.full(rows, len(column.cells) - 1, dtype=np.int64)
    return vocabulary.group_codes(labels)[keep]


def _outcome_terms(
    layout: Layout, batch: Batch, predicted: Labels | FloatArray | None
) -> tuple[_BoolArray, IntArray | None, list[FloatArray]]:
    """(rows that count, outcome index per counted row or None, weights per counted row)."""
    none = np.zeros(batch.rows, dtype=bool)
    if predicted is None or batch.labels is None:
        return none, None, []
    if layout.task == "regression":
        error = np.asarray(predicted, dtype=np.float64) - np.asarray(batch.labels, dtype=np.float64)
        keep = representable(error)
        e = error[keep]
        return keep, None, [np.ones(e.size), np.abs(e), e * e]
    labels = (predicted, batch.labels)
    keep = ~(per_value(predicted, absent) | per_value(batch.labels, absent))  # None or NaN
    if layout.task == "multiclass_classification":
        pred = np.asarray(predicted, dtype=object)[keep]
        true = np.asarray(batch.labels, dtype=object)[keep]
        return keep, (pred != true).astype(np.int64), []
    positive = str(layout.positive_label)
    p, y = (per_value(column, lambda c: equals(c, positive))[keep] for column in labels)
    # tp, fp, fn, tn → 0, 1, 2, 3
    return keep, np.where(p, np.where(y, 0, 1), np.where(y, 2, 3)).astype(np.int64), []


def build_slices(
    layout: Layout, batch: Batch, *, predicted: Labels | FloatArray | None, binned: Binned | None = None
) -> SliceCounts:
    """Per-cell counts of the batch's labelled rows with a prediction (one bincount per block);
    ``binned``: every numeric column of the layout already binned (``bins.bin_values``)."""
    first = np.zeros(batch.rows, np.int64)
    return slices_by_part(layout, batch, predicted=predicted, part=first, parts=1, binned=binned)[0]


def slices_by_part(
    layout: Layout,
    batch: Batch,
    *,
    predicted: Labels | FloatArray | None,
    part: IntArray,
    parts: int,
    binned: Binned | None = None,
) -> list[SliceCounts]:
    """``build_slices`` of each part of the batch (``part``: each row's part, 0…parts − 1),
    equal to building each part alone, in one bincount per block with the part as the
    leading digit. Holds a parts × ``SlicePlan.size`` array: 750 buckets × 4,900 numbers ≈
    29 MB at most in a fold's pass (``profile.build_profiles``)."""
    plan = plan_of(layout)
    keep, outcome, weights = _outcome_terms(layout, batch, predicted)
    if not keep.any() or not plan.columns:
        return [_zeros(plan, layout.task) for _ in range(parts)]
    codes = [_codes(layout, c, batch, keep, binned) for c in plan.columns]
    lead = part[keep]
    blocks = []
    for block in plan.blocks:
        cells = plan.block_cells(block)
        code = lead.copy()
        for index in block:
            code = code * len(plan.columns[index].cells) + codes[index]
        if outcome is not None:
            counts = np.bincount(code * plan.width + outcome, minlength=parts * cells * plan.width)
            blocks.append(counts.reshape(parts, cells * plan.width))
        else:
            sums = [
                np.bincount(code, weights=w, minlength=parts * cells).reshape(parts, cells) for w in weights
            ]
            blocks.append(np.stack(sums, axis=2).reshape(parts, cells * plan.width))
    table = np.concatenate(blocks, axis=1)
    return [SliceCounts(plan.width, tuple(row)) for row in table.tolist()]


def sum_slices(items: Sequence[SliceCounts | None]) -> SliceCounts | None:
    """Merge many at once; any absent one (a profile stored before slices) makes it absent."""
    if not items or any(i is None for i in items):
        return None
    present = [i for i in items if i is not None]
    first = present[0]
    if any(i.width != first.width or len(i.cells) != len(first.cells) for i in present):
        raise ValueError("cannot merge slice counts of different plans")
    if len(present) == 1:
        return first
    return SliceCounts(first.width, tuple(map(sum, zip(*(i.cells for i in present), strict=True))))
