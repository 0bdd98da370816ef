"""Data quality of a window from the same profiles as drift: missing, out-of-range, unseen.

Figures, not decisions (alert rules decide, with hysteresis). Per column:

- missing rate = missing / rows (NaN, ±inf, |x| > 1e50, None), beside the reference's
  rate; the counts behind both rates are returned too (``missing`` of ``rows`` in the
  window, ``reference_missing`` of ``reference_rows``), which is what a two-proportion test
  of the change needs;
- out-of-range share (numeric) = values outside [reference min, reference max] / non-missing;
- unseen share (categorical) = values never seen in the reference / non-missing.

A window with fewer than ``min_rows`` rows is ``insufficient_data`` and its rates are
None, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from service.stats.layout import Layout
from service.stats.profile import CategoricalSummary, NumericSummary, Profile

QualityStatus = Literal["ok", "insufficient_data"]


@dataclass(frozen=True, slots=True)
class FeatureQuality:
    """Quality figures of one column in one window; shares are in [0, 1].

    ``rows`` / ``missing``: the window's rows and missing values of the column;
    ``reference_rows`` / ``reference_missing``: the same in the reference.
    """

    feature: str
    kind: Literal["numeric", "categorical"]
    rows: int
    missing: int
    missing_rate: float | None
    reference_missing_rate: float | None
    out_of_range: int | None
    out_of_range_share: float | None
    unseen: int | None
    unseen_share: float | None
    status: QualityStatus
    reference_rows: int = 0
    reference_missing: int = 0


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole > 0 else None


def _numeric(name: str, reference: NumericSummary, window: NumericSummary, *, enough: bool) -> FeatureQuality:
    rows = window.count + window.missing
    outside = window.below + window.above
    return FeatureQuality(
        feature=name,
        kind="numeric",
        rows=rows,
        missing=window.missing,
        missing_rate=_ratio(window.missing, rows) if enough else None,
        reference_missing_rate=_ratio(reference.missing, reference.count + reference.missing),
        out_of_range=outside,
        out_of_range_share=_ratio(outside, window.count) if enough else None,
        unseen=None,
        unseen_share=None,
        status="ok" if enough else "insufficient_data",
        reference_rows=reference.count + reference.missing,
        reference_missing=reference.missing,
    )


def _categorical(
    name: str, reference: CategoricalSummary, window: CategoricalSummary, *, enough: bool
) -> FeatureQuality:
    rows = window.count + window.missing
    return FeatureQuality(
        feature=name,
        kind="categorical",
        rows=rows,
        missing=window.missing,
        missing_rate=_ratio(window.missing, rows) if enough else None,
        reference_missing_rate=_ratio(reference.missing, reference.count + reference.missing),
        out_of_range=None,
        out_of_range_share=None,
        unseen=window.unseen,
        unseen_share=_ratio(window.unseen, window.count) if enough else None,
        status="ok" if enough else "insufficient_data",
        reference_rows=reference.count + reference.missing,
        reference_missing=reference.missing,
    )


def evaluate_quality(
    *, layout: Layout, reference: Profile, window: Profile, min_rows: int = 1
) -> tuple[FeatureQuality, ...]:
    """Quality of every layout feature in ``window`` (O(features))."""
    enough = window.rows >= min_rows
    numeric = [
        _numeric(c.name, reference.numeric[c.name], window.numeric[c.name], enough=enough)
        for c in layout.numeric
    ]
    categorical = [
        _categorical(c.name, reference.categorical[c.name], window.categorical[c.name], enough=enough)
        for c in layout.categorical
    ]
    return (*numeric, *categorical)
