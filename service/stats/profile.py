"""Mergeable profiles: everything drift, quality, performance and fairness need from a batch.

A ``Profile`` summarises a batch of rows against a fitted ``Layout``: per feature the
count, missing count, bin or category counts, sums, minimum and maximum; the prediction
and score columns the same way; outcome aggregates (``aggregates.py``) overall, per
protected-attribute group and per declared intersection; attribution sums.

``merge`` is field-wise addition (min / max for the extremes), so it is associative and
commutative with ``Profile.empty(layout)`` as identity, and ``merge(profile(A),
profile(B)) == profile(A ∪ B)``: exactly for counts, extremes and groups, up to float
rounding for sums (relative 1e-12 at the sizes stored). A sliding window is the merge of
its time-bucket profiles, so its cost does not grow with the number of rows.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from service.stats.layout import Batch, FloatArray, Labels, Layout, NumericBins, Vocabulary
from service.stats.outcomes import (
    OVERALL,
    GroupKey,
    Mergeable,
    Outcomes,
    build_outcomes,
    merge_optional,
    stack_sum,
    sum_outcomes,
)

_T = TypeVar("_T", bound=Mergeable)
_K = TypeVar("_K")
_N = TypeVar("_N", int, float)


def _merge_maps(left: Mapping[_K, _T], right: Mapping[_K, _T]) -> dict[_K, _T]:
    """Union of keys; values under a shared key merge."""
    out = dict(left)
    for key, value in right.items():
        out[key] = out[key].merge(value) if key in out else value
    return out


def _add(left: tuple[_N, ...], right: tuple[_N, ...]) -> tuple[_N, ...]:
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

    ``count`` finite values and ``missing`` NaN/±inf ones (count + missing = rows);
    ``bins`` counts finite values per layout bin (edge bins include out-of-range values)
    and ``bin_sums`` sums them per bin (bin means make binned Wasserstein near-exact);
    ``below`` / ``above`` count values under the reference minimum / over its maximum;
    ``total`` = Σx and ``total_sq`` = Σ(x − center)² with the layout's fixed ``center``
    (the shift keeps the variance accurate when |mean| ≫ std); ``minimum`` / ``maximum``
    are None when count = 0. Units: those of the column (``total_sq``: squared).
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

    @classmethod
    def empty(cls, layout: NumericBins, *, missing: int = 0) -> NumericSummary:
        return cls(
            0, missing, (0,) * layout.bins, (0.0,) * layout.bins, 0, 0, 0.0, 0.0, None, None, layout.center
        )

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    @property
    def variance(self) -> float | None:
        """Population variance, Σ(x − c)²/n − (mean − c)²  (clipped at 0 against rounding)."""
        if not self.count:
            return None
        shifted_mean = self.total / self.count - self.center
        return max(self.total_sq / self.count - shifted_mean * shifted_mean, 0.0)

    def merge(self, other: NumericSummary) -> NumericSummary:
        if self.center != other.center:
            raise ValueError("cannot merge numeric summaries fitted with different centres")
        return NumericSummary(
            self.count + other.count,
            self.missing + other.missing,
            _add(self.bins, other.bins),
            _add(self.bin_sums, other.bin_sums),
            self.below + other.below,
            self.above + other.above,
            self.total + other.total,
            self.total_sq + other.total_sq,
            _extreme(min, self.minimum, other.minimum),
            _extreme(max, self.maximum, other.maximum),
            self.center,
        )


@dataclass(frozen=True, slots=True)
class CategoricalSummary:
    """One string column over a batch.

    ``counts`` has one entry per vocabulary value and a last "other" entry (reference
    values outside the top-K plus unseen values); ``unseen`` counts values never seen in
    the reference (a subset of "other"); ``count`` non-missing values, ``missing`` None.
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
            _add(self.counts, other.counts),
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


@dataclass(frozen=True, slots=True)
class Profile:
    """The mergeable summary of a batch of rows against the layout with ``layout_hash``.

    ``outcomes`` maps a group key to its aggregates: ``()`` is every row, ``(("sex",
    "F"),)`` one attribute group, ``(("sex", "F"), ("age_band", "18-25"))`` one
    intersection group. Groups appear only once they have a row (``()`` always does).
    """

    layout_hash: str
    rows: int
    numeric: Mapping[str, NumericSummary]
    categorical: Mapping[str, CategoricalSummary]
    prediction: NumericSummary | CategoricalSummary | None
    score: NumericSummary | None
    outcomes: Mapping[GroupKey, Outcomes]
    attributions: Mapping[str, AttributionSummary]

    @classmethod
    def empty(cls, layout: Layout) -> Profile:
        prediction: NumericSummary | CategoricalSummary | None = None
        if isinstance(layout.prediction, NumericBins):
            prediction = NumericSummary.empty(layout.prediction)
        elif isinstance(layout.prediction, Vocabulary):
            prediction = CategoricalSummary.empty(layout.prediction)
        return cls(
            layout_hash=layout.content_hash,
            rows=0,
            numeric={c.name: NumericSummary.empty(c) for c in layout.numeric},
            categorical={c.name: CategoricalSummary.empty(c) for c in layout.categorical},
            prediction=prediction,
            score=None if layout.score is None else NumericSummary.empty(layout.score),
            outcomes={OVERALL: Outcomes.empty(layout)},
            attributions={},
        )

    def attribution_sums(self) -> dict[str, tuple[float, int]]:
        """Attributions as ``explanation.AttributionSums``: feature → (Σ|attribution|, rows)."""
        return {name: (s.abs_sum, s.count) for name, s in self.attributions.items()}

    def merge(self, other: Profile) -> Profile:
        if self.layout_hash != other.layout_hash:
            raise ValueError("cannot merge profiles built on different layouts")
        mine, theirs = self.prediction, other.prediction
        prediction: NumericSummary | CategoricalSummary | None = None
        if isinstance(mine, NumericSummary) and isinstance(theirs, NumericSummary):  # noqa: SIM114 - narrowing
            prediction = mine.merge(theirs)
        elif isinstance(mine, CategoricalSummary) and isinstance(theirs, CategoricalSummary):
            prediction = mine.merge(theirs)
        elif mine is not None or theirs is not None:
            raise ValueError("cannot merge profiles with different prediction summaries")
        return Profile(
            layout_hash=self.layout_hash,
            rows=self.rows + other.rows,
            numeric=_merge_maps(self.numeric, other.numeric),
            categorical=_merge_maps(self.categorical, other.categorical),
            prediction=prediction,
            score=merge_optional(self.score, other.score),
            outcomes=_merge_maps(self.outcomes, other.outcomes),
            attributions=_merge_maps(self.attributions, other.attributions),
        )


def group_outcomes(profile: Profile, attributes: Sequence[str]) -> dict[tuple[str, ...], Outcomes]:
    """Outcomes of every group of one attribute (``("sex",)``) or declared intersection
    (``("sex", "age_band")``), keyed by the tuple of values; ``()`` gives all rows."""
    wanted = tuple(attributes)
    return {
        tuple(value for _, value in key): outcomes
        for key, outcomes in profile.outcomes.items()
        if tuple(name for name, _ in key) == wanted
    }


def merge_all(profiles: Sequence[Profile], *, layout: Layout) -> Profile:
    """Merge many bucket profiles in one vectorised pass (the empty profile when none).

    Same result as folding ``merge`` (counts exactly, float sums up to rounding), but each
    field is summed in one numpy reduction: merging 1,440 minute buckets costs ~0.1 s
    instead of ~1.4 s of tuple-by-tuple additions.
    """
    if not profiles:
        return Profile.empty(layout)
    if any(p.layout_hash != layout.content_hash for p in profiles):
        raise ValueError("cannot merge profiles built on different layouts")
    groups: dict[GroupKey, list[Outcomes]] = {}
    for profile in profiles:
        for key, value in profile.outcomes.items():
            groups.setdefault(key, []).append(value)
    attributions: dict[str, AttributionSummary] = {}
    for profile in profiles:
        attributions = _merge_maps(attributions, profile.attributions)
    first = profiles[0]
    return Profile(
        layout_hash=layout.content_hash,
        rows=sum(p.rows for p in profiles),
        numeric={name: _sum_numeric([p.numeric[name] for p in profiles]) for name in first.numeric},
        categorical={
            name: _sum_categorical([p.categorical[name] for p in profiles]) for name in first.categorical
        },
        prediction=_sum_summaries([p.prediction for p in profiles]),
        score=_sum_numeric_optional([p.score for p in profiles]),
        outcomes={key: sum_outcomes(values) for key, values in groups.items()},
        attributions=attributions,
    )


_Summary = NumericSummary | CategoricalSummary


def _sum_numeric(items: list[NumericSummary]) -> NumericSummary:
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
    )


def _sum_categorical(items: list[CategoricalSummary]) -> CategoricalSummary:
    return CategoricalSummary(
        sum(i.count for i in items),
        sum(i.missing for i in items),
        stack_sum([i.counts for i in items]),
        sum(i.unseen for i in items),
    )


def _sum_numeric_optional(items: list[NumericSummary | None]) -> NumericSummary | None:
    present = [i for i in items if i is not None]
    if len(present) not in (0, len(items)):
        raise ValueError("cannot merge a present summary with an absent one")
    return _sum_numeric(present) if present else None


def _sum_summaries(items: list[_Summary | None]) -> _Summary | None:
    numeric = [i for i in items if isinstance(i, NumericSummary)]
    categorical = [i for i in items if isinstance(i, CategoricalSummary)]
    if numeric and len(numeric) == len(items):
        return _sum_numeric(numeric)
    if categorical and len(categorical) == len(items):
        return _sum_categorical(categorical)
    if numeric or categorical:
        raise ValueError("cannot merge profiles with different prediction summaries")
    return None


def summarize_numeric(bins: NumericBins, values: FloatArray | None, *, rows: int) -> NumericSummary:
    """Summarise one numeric column (NaN and ±inf count as missing)."""
    if values is None:
        return NumericSummary.empty(bins, missing=rows)
    column = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(column)
    x = column if finite.all() else column[finite]
    if x.size == 0:
        return NumericSummary.empty(bins, missing=rows)
    index = bins.index(x)
    counts = np.bincount(index, minlength=bins.bins)
    sums = np.bincount(index, weights=x, minlength=bins.bins)
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
    """Summarise one string column (None is missing; other and unseen share the last count)."""
    if values is None:
        return CategoricalSummary.empty(vocabulary, missing=rows)
    k = len(vocabulary.values)
    counts = np.bincount(vocabulary.codes(values), minlength=k + 3)
    present = counts[: k + 2]
    merged = (*present[:k].tolist(), int(present[k] + present[k + 1]))
    return CategoricalSummary(int(present.sum()), int(counts[k + 2]), merged, int(counts[k + 1]))


def summarize_attribution(values: FloatArray) -> AttributionSummary:
    column = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(column)
    return AttributionSummary(int(finite.sum()), float(np.abs(column[finite]).sum()))


def build_profile(layout: Layout, batch: Batch) -> Profile:
    """Profile one batch against ``layout`` (vectorised: a few numpy passes per column).

    Columns the layout does not know are ignored; a layout column absent from the batch
    counts every row as missing.
    """
    rows = batch.rows
    predicted = predicted_labels(layout, batch)
    prediction: NumericSummary | CategoricalSummary | None = None
    if isinstance(layout.prediction, NumericBins):
        values = None if predicted is None else np.asarray(predicted, dtype=np.float64)
        prediction = summarize_numeric(layout.prediction, values, rows=rows)
    elif isinstance(layout.prediction, Vocabulary):
        prediction = summarize_categorical(layout.prediction, predicted, rows=rows)
    attributions = {name: summarize_attribution(column) for name, column in batch.attributions.items()}
    return Profile(
        layout_hash=layout.content_hash,
        rows=rows,
        numeric={c.name: summarize_numeric(c, batch.numeric.get(c.name), rows=rows) for c in layout.numeric},
        categorical={
            c.name: summarize_categorical(c, batch.categorical.get(c.name), rows=rows)
            for c in layout.categorical
        },
        prediction=prediction,
        score=None if layout.score is None else summarize_numeric(layout.score, batch.scores, rows=rows),
        outcomes=build_outcomes(layout, batch, predicted=predicted),
        attributions={name: s for name, s in attributions.items() if s.count},
    )


def predicted_labels(layout: Layout, batch: Batch) -> Labels | FloatArray | None:
    """The batch's predictions; for a binary model sent only scores, score ≥ threshold."""
    if batch.predictions is not None or batch.scores is None or layout.task != "binary_classification":
        return batch.predictions
    negative = next(c for c in layout.classes if c != layout.positive_label)
    scores = np.asarray(batch.scores, dtype=np.float64)
    labels = np.where(scores >= layout.threshold, str(layout.positive_label), negative).astype(object)
    labels[np.isnan(scores)] = None
    return list(labels)
