"""Mergeable outcome aggregates: the sufficient statistics for performance and fairness.

Every aggregate here is a frozen value with an ``empty`` identity, an associative and
commutative ``merge`` (field-wise addition), a builder from raw arrays, and a JSON-safe
``to_dict`` / ``from_dict`` pair. Integer fields merge exactly; float sums merge by
addition, so ``merge(a, b)`` equals the aggregate of the union up to float rounding
(relative error below 1e-12 for the sizes modelmon stores).

These are the contract between the profile builder (which fills them per time bucket and
per group) and the metric functions (which read them); neither side owns the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Self

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _add_tuples(left: Sequence[int], right: Sequence[int]) -> tuple[int, ...]:
    if len(left) != len(right):
        raise ValueError(f"cannot merge histograms of {len(left)} and {len(right)} bins")
    return tuple(a + b for a, b in zip(left, right, strict=True))


def _add_float_tuples(left: Sequence[float], right: Sequence[float]) -> tuple[float, ...]:
    if len(left) != len(right):
        raise ValueError(f"cannot merge histograms of {len(left)} and {len(right)} bins")
    return tuple(a + b for a, b in zip(left, right, strict=True))


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def field_names(cls: type) -> tuple[str, ...]:
    """The dataclass's field names in order: ``fields()`` rebuilt the tuple on each call, ~8 µs,
    ~20 times per stored profile (7% of a fold pass)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


class _Additive:
    """Field-wise addition of scalar int/float fields (dataclass mixin)."""

    def merge(self, other: Self) -> Self:
        if type(other) is not type(self):
            raise TypeError(f"cannot merge {type(self).__name__} with {type(other).__name__}")
        values = {name: getattr(self, name) + getattr(other, name) for name in field_names(type(self))}
        return type(self)(**values)

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in field_names(type(self))}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Fields missing from ``data`` (stored before they existed) take their defaults; each
        such field is paired with a row count that tells the metric the sum is incomplete."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})  # type: ignore[arg-type]


def log_loss_terms(scores: FloatArray, actual: npt.NDArray[np.bool_]) -> FloatArray:
    """Per-row log loss −[y ln p + (1 − y) ln(1 − p)] in nats, clipped as scikit-learn does.

    scikit-learn (1.5+) forms the two columns (1 − p, p) and clips both to [ε, 1 − ε] with
    ε = 2.2e-16 (float64 machine epsilon), so a confident miss costs at most −ln ε ≈ 36.0.
    """
    eps = float(np.finfo(np.float64).eps)
    p = np.asarray(scores, dtype=np.float64)
    chosen = np.where(np.asarray(actual, dtype=bool), p, 1.0 - p)
    loss: FloatArray = -np.log(np.clip(chosen, eps, 1.0 - eps))
    return loss


@dataclass(frozen=True, slots=True)
class BinaryCounts(_Additive):
    """Counts for a binary classifier over one group of rows.

    ``n`` counts every row; ``predicted_positive`` counts rows with ŷ = positive label
    (label-free: selection rate = predicted_positive / n). The confusion counts
    ``tp, fp, tn, fn`` cover only the ``labelled`` rows (tp + fp + tn + fn = labelled).
    ``brier_sum`` = Σ (score − y)² over labelled rows that carry a score, and
    ``scored_labelled`` counts those rows (Brier score = brier_sum / scored_labelled).
    ``log_loss_sum`` / ``_sq_sum`` / ``_cube_sum`` = Σℓ, Σℓ², Σℓ³ of the per-row log loss ℓ
    (:func:`log_loss_terms`) over the ``log_loss_rows`` rows behind them: the same rows as
    ``scored_labelled`` in profiles built since log loss exists, fewer when a window merges
    older stored profiles (which lack the sums), and then log loss is not served.
    """

    n: int = 0
    predicted_positive: int = 0
    labelled: int = 0
    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0
    scored_labelled: int = 0
    brier_sum: float = 0.0
    log_loss_rows: int = 0
    log_loss_sum: float = 0.0
    log_loss_sq_sum: float = 0.0
    log_loss_cube_sum: float = 0.0

    @classmethod
    def empty(cls) -> BinaryCounts:
        return cls()

    @classmethod
    def from_arrays(
        cls,
        *,
        predicted_positive: npt.NDArray[np.bool_],
        actual_positive: npt.NDArray[np.bool_] | None = None,
        labelled: npt.NDArray[np.bool_] | None = None,
        scores: FloatArray | None = None,
    ) -> BinaryCounts:
        """Build from per-row booleans; ``labelled`` marks rows whose label is known.

        ``scores`` may hold NaN for rows without a score. ``actual_positive`` is read only
        where ``labelled`` is true.
        """
        pred = np.asarray(predicted_positive, dtype=bool)
        n = int(pred.size)
        if actual_positive is None:
            return cls(n=n, predicted_positive=int(pred.sum()))
        has_label = np.ones(n, dtype=bool) if labelled is None else np.asarray(labelled, dtype=bool)
        actual = np.asarray(actual_positive, dtype=bool) & has_label
        brier_sum, scored, loss = 0.0, 0, np.zeros(0)
        if scores is not None:
            score_arr = np.asarray(scores, dtype=np.float64)
            usable = has_label & ~np.isnan(score_arr)
            scored = int(usable.sum())
            brier_sum = float(np.sum((score_arr[usable] - actual[usable]) ** 2))
            loss = log_loss_terms(score_arr[usable], actual[usable])
        return cls(
            n=n,
            predicted_positive=int(pred.sum()),
            labelled=int(has_label.sum()),
            tp=int(np.sum(pred & actual)),
            fp=int(np.sum(pred & has_label & ~actual)),
            tn=int(np.sum(~pred & has_label & ~actual)),
            fn=int(np.sum(~pred & actual)),
            scored_labelled=scored,
            brier_sum=brier_sum,
            log_loss_rows=scored,
            log_loss_sum=float(loss.sum()),
            log_loss_sq_sum=float(np.sum(loss**2)),
            log_loss_cube_sum=float(np.sum(loss**3)),
        )


@dataclass(frozen=True, slots=True)
class ScoreHistogram:
    """Scores binned on fixed ``edges`` (fitted once on the reference), split by label.

    Bin i is [edges[i], edges[i+1]); the last bin is closed and scores outside
    [edges[0], edges[-1]] are clipped into the edge bins. ``positive`` / ``negative``
    count labelled rows by true label; ``unlabelled`` counts rows without a label yet,
    so the histogram of all rows is the sum of the three (estimated performance uses it).
    ``score_sum_*`` hold Σ score per bin for the same rows (mean score per bin, for
    calibration error and confidence-based estimation).
    """

    edges: tuple[float, ...]
    positive: tuple[int, ...]
    negative: tuple[int, ...]
    unlabelled: tuple[int, ...]
    score_sum_positive: tuple[float, ...]
    score_sum_negative: tuple[float, ...]
    score_sum_unlabelled: tuple[float, ...]

    @property
    def bins(self) -> int:
        return len(self.edges) - 1

    @classmethod
    def empty(cls, edges: Sequence[float]) -> ScoreHistogram:
        bins = len(edges) - 1
        if bins < 1:
            raise ValueError("a score histogram needs at least two edges")
        zeros, fzeros = (0,) * bins, (0.0,) * bins
        return cls(tuple(float(e) for e in edges), zeros, zeros, zeros, fzeros, fzeros, fzeros)

    @staticmethod
    def bin_index(edges: Sequence[float], scores: FloatArray) -> IntArray:
        """Index of each score's bin, edge bins absorbing out-of-range scores."""
        edge_arr = np.asarray(edges, dtype=np.float64)
        idx = np.searchsorted(edge_arr, scores, side="right") - 1
        return np.clip(idx, 0, edge_arr.size - 2).astype(np.int64)

    @classmethod
    def from_arrays(
        cls,
        edges: Sequence[float],
        *,
        scores: FloatArray,
        actual_positive: npt.NDArray[np.bool_] | None = None,
        labelled: npt.NDArray[np.bool_] | None = None,
    ) -> ScoreHistogram:
        """Bin ``scores`` (NaN rows are skipped) by true label where ``labelled``."""
        score_arr = np.asarray(scores, dtype=np.float64)
        keep = ~np.isnan(score_arr)
        n = score_arr.size
        has_label = (
            np.zeros(n, dtype=bool)
            if actual_positive is None
            else (np.ones(n, dtype=bool) if labelled is None else np.asarray(labelled, dtype=bool))
        )
        actual = np.zeros(n, dtype=bool) if actual_positive is None else np.asarray(actual_positive, bool)
        idx = cls.bin_index(edges, score_arr[keep])
        bins = len(edges) - 1
        parts = []
        for mask in (has_label & actual, has_label & ~actual, ~has_label):
            sel = mask[keep]
            counts = np.bincount(idx[sel], minlength=bins)
            sums = np.bincount(idx[sel], weights=score_arr[keep][sel], minlength=bins)
            parts.append((tuple(int(c) for c in counts), tuple(float(s) for s in sums)))
        (pos, spos), (neg, sneg), (unl, sunl) = parts
        return cls(tuple(float(e) for e in edges), pos, neg, unl, spos, sneg, sunl)

    def merge(self, other: ScoreHistogram) -> ScoreHistogram:
        if self.edges != other.edges:
            raise ValueError("cannot merge score histograms with different edges")
        return ScoreHistogram(
            self.edges,
            _add_tuples(self.positive, other.positive),
            _add_tuples(self.negative, other.negative),
            _add_tuples(self.unlabelled, other.unlabelled),
            _add_float_tuples(self.score_sum_positive, other.score_sum_positive),
            _add_float_tuples(self.score_sum_negative, other.score_sum_negative),
            _add_float_tuples(self.score_sum_unlabelled, other.score_sum_unlabelled),
        )

    def to_dict(self) -> dict[str, Any]:
        return {name: list(getattr(self, name)) for name in field_names(type(self))}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoreHistogram:
        return cls(**{f.name: tuple(data[f.name]) for f in fields(cls)})


@dataclass(frozen=True, slots=True)
class MulticlassCounts:
    """Confusion matrix of a multiclass classifier over ``classes``.

    ``matrix[i * k + j]`` counts labelled rows with true class i and predicted class j
    (k = len(classes)); ``predicted[j]`` counts every row predicted j, labelled or not.
    """

    classes: tuple[str, ...]
    matrix: tuple[int, ...]
    predicted: tuple[int, ...]

    @property
    def n(self) -> int:
        return sum(self.predicted)

    @property
    def labelled(self) -> int:
        return sum(self.matrix)

    @classmethod
    def empty(cls, classes: Sequence[str]) -> MulticlassCounts:
        k = len(classes)
        return cls(tuple(classes), (0,) * (k * k), (0,) * k)

    @classmethod
    def from_arrays(
        cls,
        classes: Sequence[str],
        *,
        predicted: IntArray,
        actual: IntArray | None = None,
    ) -> MulticlassCounts:
        """``predicted`` / ``actual`` are class indices; ``actual`` −1 means unlabelled."""
        k = len(classes)
        pred = np.asarray(predicted, dtype=np.int64)
        pred_counts = np.bincount(pred, minlength=k)
        matrix = np.zeros(k * k, dtype=np.int64)
        if actual is not None:
            act = np.asarray(actual, dtype=np.int64)
            known = act >= 0
            matrix = np.bincount(act[known] * k + pred[known], minlength=k * k)
        return cls(tuple(classes), tuple(int(c) for c in matrix), tuple(int(c) for c in pred_counts))

    def merge(self, other: MulticlassCounts) -> MulticlassCounts:
        if self.classes != other.classes:
            raise ValueError("cannot merge multiclass counts over different classes")
        return MulticlassCounts(
            self.classes,
            _add_tuples(self.matrix, other.matrix),
            _add_tuples(self.predicted, other.predicted),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"classes": list(self.classes), "matrix": list(self.matrix), "predicted": list(self.predicted)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MulticlassCounts:
        return cls(tuple(data["classes"]), tuple(data["matrix"]), tuple(data["predicted"]))


def percentage_error_rows(errors: FloatArray, actual: FloatArray) -> npt.NDArray[np.bool_]:
    """Rows that count in MAPE: y ≠ 0 and |e| / |y| finite.

    A |y| near the float minimum (~1e-308) makes |e| / |y| overflow to inf; such rows are
    skipped like y = 0, since a percentage error against a zero-like truth means nothing.
    """
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        ratio = np.abs(errors) / np.abs(actual)
    rows: npt.NDArray[np.bool_] = (actual != 0) & np.isfinite(ratio)
    return rows


def moment_rows(errors: FloatArray) -> npt.NDArray[np.bool_]:
    """Rows with |e| < 1e49, whose e⁶ < 1e294 keeps a sum over 10¹² rows finite. Larger errors
    stay out of Σe³, Σ|e|³, Σe⁶, which then count fewer than the labelled rows (``moment_rows``),
    and the intervals skip their skewness correction."""
    rows: npt.NDArray[np.bool_] = np.abs(errors) < 1e49
    return rows


@dataclass(frozen=True, slots=True)
class RegressionSums(_Additive):
    """Sufficient statistics of regression errors, e = prediction − y, over labelled rows.

    ``n`` counts all rows; the sums cover the ``labelled`` rows. ``sum_abs_pct_error`` =
    Σ |e| / |y| over the ``pct_rows`` labelled rows with y ≠ 0 and a finite ratio
    (MAPE skips y = 0; see :func:`percentage_error_rows`).
    ``sum_quartic_error`` = Σ e⁴ gives the variance of e² for an RMSE interval; Σe³, Σ|e|³
    and Σe⁶ give the skewness of e, |e| and e² (the skew-corrected intervals), over the
    ``moment_rows`` rows behind them (fewer than ``labelled`` when older stored profiles,
    which lack these sums, are merged in: the intervals then fall back to no correction).
    ``sum_y`` / ``sum_y_sq`` are Σ(y − c) and Σ(y − c)² about the ``shift`` c (the layout's
    reference median prediction; 0 in profiles stored before the shift existed): at
    mean(y) = 1e7 and sd 1, raw Σy² − (Σy)²/n would cancel all 16 digits of R²'s denominator.
    ``sum_prediction`` / ``sum_prediction_sq`` cover all ``n`` rows (label-free).
    """

    n: int = 0
    labelled: int = 0
    sum_error: float = 0.0
    sum_abs_error: float = 0.0
    sum_sq_error: float = 0.0
    sum_quartic_error: float = 0.0
    sum_abs_pct_error: float = 0.0
    pct_rows: int = 0
    sum_y: float = 0.0
    sum_y_sq: float = 0.0
    sum_prediction: float = 0.0
    sum_prediction_sq: float = 0.0
    shift: float = 0.0
    moment_rows: int = 0
    sum_cubic_error: float = 0.0
    sum_abs_cubic_error: float = 0.0
    sum_sextic_error: float = 0.0

    @classmethod
    def empty(cls, shift: float = 0.0) -> RegressionSums:
        return cls(shift=float(shift))

    @classmethod
    def from_arrays(
        cls, *, predictions: FloatArray, actual: FloatArray | None = None, shift: float = 0.0
    ) -> RegressionSums:
        """``actual`` may hold NaN for rows without a label yet; y sums are about ``shift``."""
        pred = np.asarray(predictions, dtype=np.float64)
        base = {
            "n": int(pred.size),
            "sum_prediction": float(pred.sum()),
            "sum_prediction_sq": float(np.sum(pred * pred)),
            "shift": float(shift),
        }
        if actual is None:
            return cls(**base)  # type: ignore[arg-type]
        y_all = np.asarray(actual, dtype=np.float64)
        known = ~np.isnan(y_all)
        y, err = y_all[known], pred[known] - y_all[known]
        nonzero = percentage_error_rows(err, y)
        centred = y - shift
        moment = moment_rows(err)
        return cls(
            **base,  # type: ignore[arg-type]
            labelled=int(known.sum()),
            sum_error=float(err.sum()),
            sum_abs_error=float(np.abs(err).sum()),
            sum_sq_error=float(np.sum(err * err)),
            sum_quartic_error=float(np.sum(err**4)),
            sum_abs_pct_error=float(np.sum(np.abs(err[nonzero]) / np.abs(y[nonzero]))),
            pct_rows=int(nonzero.sum()),
            sum_y=float(centred.sum()),
            sum_y_sq=float(np.sum(centred * centred)),
            moment_rows=int(moment.sum()),
            sum_cubic_error=float(np.sum(err[moment] ** 3)),
            sum_abs_cubic_error=float(np.sum(np.abs(err[moment]) ** 3)),
            sum_sextic_error=float(np.sum(err[moment] ** 6)),
        )

    def shifted(self, shift: float) -> RegressionSums:
        """The same sums about another shift c′ (exact algebra, δ = c − c′):
        Σ(y − c′) = Σ(y − c) + n δ,  Σ(y − c′)² = Σ(y − c)² + 2δ Σ(y − c) + n δ²."""
        if shift == self.shift:
            return self
        delta, n = self.shift - shift, self.labelled
        return replace(
            self,
            shift=float(shift),
            sum_y=self.sum_y + n * delta,
            sum_y_sq=self.sum_y_sq + 2.0 * delta * self.sum_y + n * delta * delta,
        )

    def merge(self, other: RegressionSums) -> RegressionSums:
        return sum_regression([self, other])


def common_shift(items: Sequence[RegressionSums]) -> float:
    """The shift to merge at: of the shifts of the items with labelled rows (of all items when
    none has any), the one nearest the pooled mean of y, ties to the smaller; so merging old
    (c = 0) and new profiles keeps the new precision."""
    shifts = sorted({item.shift for item in items if item.labelled} or {item.shift for item in items})
    if len(shifts) == 1:
        return shifts[0]
    labelled = sum(item.labelled for item in items)
    mean = sum(item.sum_y + item.labelled * item.shift for item in items) / labelled if labelled else 0.0
    return min(shifts, key=lambda c: abs(c - mean))


def sum_regression(items: Sequence[RegressionSums]) -> RegressionSums:
    """Field-wise sum after re-shifting every item to :func:`common_shift` (any order, same result
    up to float rounding; a single shift, the usual case, is plain addition)."""
    if any(type(item) is not RegressionSums for item in items):
        raise TypeError("can only merge RegressionSums with RegressionSums")
    shift = common_shift(items)
    aligned = [item.shifted(shift) for item in items]
    names = [f.name for f in fields(RegressionSums) if f.name != "shift"]
    return RegressionSums(**{name: sum(getattr(a, name) for a in aligned) for name in names}, shift=shift)
