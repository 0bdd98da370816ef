"""Columnar input (``Batch``) and the reference ``Layout`` fitted once per model version.

The layout fixes every bin before any window is seen: numeric bin edges at reference
quantiles, or one cell per value for a discrete column (``bins.py``), a category
vocabulary per categorical feature and per protected attribute, the class list, and the
score edges of ``ScoreHistogram``. Every window of a model version is scored against the
same layout, so drift scores are comparable across windows (Evidently re-bins reference +
current for each window, so its scores are not).

A layout is a JSON-safe value; ``content_hash`` is the sha256 of its canonical JSON
(sorted keys, no whitespace) and is what stored profiles and evaluations cite.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence, Sized
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from service.kernel.coded import per_value

# Re-exported: the numeric bins moved to bins.py; imports from layout keep working.
from service.stats.bins import MAX_MAGNITUDE as MAX_MAGNITUDE
from service.stats.bins import FloatArray as FloatArray
from service.stats.bins import IntArray as IntArray
from service.stats.bins import NumericBins as NumericBins
from service.stats.bins import fit_numeric as fit_numeric
from service.stats.multivariate import MultivariateModel, fit_multivariate

Task = Literal["binary_classification", "multiclass_classification", "regression"]
TASKS: tuple[Task, ...] = ("binary_classification", "multiclass_classification", "regression")
# Strings with None (or a float NaN, as pandas writes) for missing: a list, or a numpy
# object (or str) array.
Labels = Sequence[str | float | None] | npt.NDArray[Any]

OTHER = "(other)"
MISSING = "(missing)"
RESERVED = frozenset({OTHER, MISSING})


def _check_rows(name: str, column: Sized, rows: int) -> None:
    if len(column) != rows:
        raise ValueError(f"column {name!r} has {len(column)} rows, expected {rows}")


@dataclass(frozen=True, slots=True)
class Batch:
    """A batch of rows in columns; the input to ``fit_layout`` and ``build_profile``.

    Missing values: NaN, ±inf or |x| > ``MAX_MAGNITUDE`` (1e50) in numeric columns;
    ``None`` or a float NaN (what pandas puts in object columns) in string columns.
    ``predictions`` are class labels (str) for classification and floats for
    regression; ``scores`` are P(positive label) for binary classifiers, NaN = no score;
    ``labels`` are the true outcomes with ``None`` (classification) or NaN (regression)
    for rows not labelled yet; ``attributions`` hold one float per row and feature
    (NaN where a row carries none).
    """

    rows: int
    numeric: Mapping[str, FloatArray] = field(default_factory=dict)
    categorical: Mapping[str, Labels] = field(default_factory=dict)
    predictions: Labels | FloatArray | None = None
    scores: FloatArray | None = None
    labels: Labels | FloatArray | None = None
    attributes: Mapping[str, Labels] = field(default_factory=dict)
    attributions: Mapping[str, FloatArray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for group in (self.numeric, self.categorical, self.attributes, self.attributions):
            for name, column in group.items():
                _check_rows(name, column, self.rows)
        outputs = {"predictions": self.predictions, "scores": self.scores, "labels": self.labels}
        for name, maybe in outputs.items():
            if maybe is not None:
                _check_rows(name, maybe, self.rows)

    def slice(self, start: int, stop: int) -> Batch:
        """Rows ``start:stop`` (numpy views where the columns are arrays)."""
        stop = min(stop, self.rows)
        start = min(start, stop)

        def cut(columns: Mapping[str, Any]) -> dict[str, Any]:
            return {name: column[start:stop] for name, column in columns.items()}

        return Batch(
            rows=stop - start,
            numeric=cut(self.numeric),
            categorical=cut(self.categorical),
            predictions=None if self.predictions is None else self.predictions[start:stop],
            scores=None if self.scores is None else self.scores[start:stop],
            labels=None if self.labels is None else self.labels[start:stop],
            attributes=cut(self.attributes),
            attributions=cut(self.attributions),
        )


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Category vocabulary of one string column: the reference's top values plus "other".

    Values are compared in Unicode NFC (``fit_vocabulary`` normalises them).

    ``values`` are the top-K reference values by frequency (ties by name); ``known``
    holds further values seen in the reference (at most ``max_known``), so a window value
    in neither is *unseen*; ``known_complete`` is false when the reference had more
    values than were kept (unseen counts are then an upper bound).
    Codes: 0..K-1 the values, K other-known, K+1 unseen, K+2 missing.
    """

    name: str
    values: tuple[str, ...]
    known: tuple[str, ...] = ()
    known_complete: bool = True

    @property
    def other(self) -> int:
        return len(self.values)

    @property
    def unseen(self) -> int:
        return len(self.values) + 1

    @property
    def missing(self) -> int:
        return len(self.values) + 2

    def codes(self, column: Labels) -> IntArray:
        """Code of each value: a C-level dict lookup per row, then a second look at the few
        values not found (NaN is missing; a non-NFC string is looked up in its NFC form). A
        column that carries its dictionary encoding (``kernel.coded``) is looked up once per
        distinct value and the codes gathered: ~0.01 s per 10^6 rows against ~0.14 s."""
        return per_value(column, self._looked_up)

    def _looked_up(self, column: Labels) -> IntArray:
        lookup: dict[str | None, int] = {value: i for i, value in enumerate(self.values)}
        lookup.update(dict.fromkeys(self.known, self.other))
        lookup[None] = self.missing
        codes = np.fromiter(map(lookup.get, column, repeat(self.unseen)), dtype=np.int64, count=len(column))
        for i in np.flatnonzero(codes == self.unseen).tolist():
            value = column[i]
            if is_missing_label(value):
                codes[i] = self.missing
            elif isinstance(value, str) and not value.isascii():
                codes[i] = lookup.get(unicodedata.normalize("NFC", value), self.unseen)
        return codes

    def group_codes(self, column: Labels) -> IntArray:
        """Codes for grouping: values 0..K-1, K = ``OTHER`` (other or unseen), K+1 = ``MISSING``."""
        codes = self.codes(column)
        return np.where(codes > self.other, codes - 1, codes)

    @property
    def group_names(self) -> tuple[str, ...]:
        return (*self.values, OTHER, MISSING)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "values": list(self.values),
            "known": list(self.known),
            "known_complete": self.known_complete,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Vocabulary:
        return cls(data["name"], tuple(data["values"]), tuple(data["known"]), bool(data["known_complete"]))


@dataclass(frozen=True, slots=True)
class Layout:
    """Everything fitted on the reference that profiles and metrics need.

    ``classes`` lists the class labels (binary: the two labels, positive one included);
    ``score_edges`` are the ``ScoreHistogram`` edges on [0, 1] with ``threshold`` as an
    edge; ``prediction`` / ``score`` bin the model output for output drift.
    ``multivariate``: the PCA fitted on the numeric features (``multivariate.py``), None
    with fewer than two usable numeric features; written only when present, so every layout
    stored before it keeps its JSON and its hash.
    """

    task: Task
    numeric: tuple[NumericBins, ...] = ()
    categorical: tuple[Vocabulary, ...] = ()
    attributes: tuple[Vocabulary, ...] = ()
    intersections: tuple[tuple[str, ...], ...] = ()
    classes: tuple[str, ...] = ()
    positive_label: str | None = None
    threshold: float = 0.5
    score_edges: tuple[float, ...] = (0.0, 0.5, 1.0)
    prediction: NumericBins | Vocabulary | None = None
    score: NumericBins | None = None
    multivariate: MultivariateModel | None = None
    version: int = 1
    _hash: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._validate()
        # Profiles cite the hash on every build: compute it once (sha256 of ~30 kB of JSON).
        object.__setattr__(self, "_hash", hashlib.sha256(self.to_json().encode()).hexdigest())

    def _validate(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}")
        if self.task == "binary_classification" and self.positive_label not in self.classes:
            raise ValueError("a binary layout needs its positive label among its classes")
        names = [c.name for c in self.numeric] + [c.name for c in self.categorical]
        if len(set(names)) != len(names):
            raise ValueError("feature names must be unique")
        attrs = {a.name for a in self.attributes}
        for combo in self.intersections:
            if len(combo) < 2 or not set(combo) <= attrs:
                raise ValueError(f"intersection {combo} must name at least two declared attributes")
        if self.threshold not in self.score_edges:
            raise ValueError("the decision threshold must be one of the score edges")

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.numeric) + tuple(c.name for c in self.categorical)

    def to_dict(self) -> dict[str, Any]:
        pred: dict[str, Any] | None = None
        if self.prediction is not None:
            kind = "numeric" if isinstance(self.prediction, NumericBins) else "categorical"
            pred = {"kind": kind, **self.prediction.to_dict()}
        out: dict[str, Any] = {
            "version": self.version,
            "task": self.task,
            "numeric": [c.to_dict() for c in self.numeric],
            "categorical": [c.to_dict() for c in self.categorical],
            "attributes": [a.to_dict() for a in self.attributes],
            "intersections": [list(c) for c in self.intersections],
            "classes": list(self.classes),
            "positive_label": self.positive_label,
            "threshold": self.threshold,
            "score_edges": list(self.score_edges),
            "prediction": pred,
            "score": None if self.score is None else self.score.to_dict(),
        }
        if self.multivariate is not None:
            out["multivariate"] = self.multivariate.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Layout:
        pred_data = data["prediction"]
        prediction: NumericBins | Vocabulary | None = None
        if pred_data is not None:
            body = {k: v for k, v in pred_data.items() if k != "kind"}
            numeric = pred_data["kind"] == "numeric"
            prediction = NumericBins.from_dict(body) if numeric else Vocabulary.from_dict(body)
        return cls(
            task=data["task"],
            numeric=tuple(NumericBins.from_dict(c) for c in data["numeric"]),
            categorical=tuple(Vocabulary.from_dict(c) for c in data["categorical"]),
            attributes=tuple(Vocabulary.from_dict(a) for a in data["attributes"]),
            intersections=tuple(tuple(c) for c in data["intersections"]),
            classes=tuple(data["classes"]),
            positive_label=data["positive_label"],
            threshold=float(data["threshold"]),
            score_edges=tuple(float(e) for e in data["score_edges"]),
            prediction=prediction,
            score=None if data["score"] is None else NumericBins.from_dict(data["score"]),
            multivariate=MultivariateModel.from_dict(data["multivariate"])
            if data.get("multivariate")
            else None,
            version=int(data["version"]),
        )

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no whitespace (floats use Python's shortest repr)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Layout:
        return cls.from_dict(json.loads(text))

    @property
    def content_hash(self) -> str:
        """sha256 (hex) of the canonical JSON; equal layouts have equal hashes."""
        return self._hash


def is_missing_label(value: object) -> bool:
    """None or a float NaN: a missing value of a string column."""
    return value is None or (isinstance(value, float) and value != value)


def nfc(text: str) -> str:
    """``text`` in Unicode NFC; ASCII text is NFC already (the fast path, ~30 ns)."""
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _present(column: Labels) -> Iterator[Any]:
    for value in column:
        if not is_missing_label(value):
            yield nfc(value) if isinstance(value, str) else value


def fit_vocabulary(name: str, column: Labels, *, top_k: int = 20, max_known: int = 1000) -> Vocabulary:
    """The ``top_k`` most frequent reference values (ties by name) and up to ``max_known`` others.

    Values are counted in NFC; None and NaN are missing.
    """
    counts = Counter(_present(column))
    ranked = [value for value, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    rest = ranked[top_k:]
    return Vocabulary(name, tuple(ranked[:top_k]), tuple(sorted(rest[:max_known])), len(rest) <= max_known)


# 50 score bins: the ROC AUC binning bound is 0.003-0.008 (0.008-0.020 with 20, 0.002-0.004
# with 100), and a stored 1,000-row bucket of the 18-group credit layout is 36 kB (29 kB with
# 20, 44 kB with 100): benchmarks/coverage/performance_design.py, docs/statistics-outcomes.md.
SCORE_BINS = 50


def score_edges(
    *,
    bins: int = SCORE_BINS,
    threshold: float = 0.5,
    scores: FloatArray | None = None,
    labels: Labels | FloatArray | None = None,
    positive_label: str | None = None,
) -> tuple[float, ...]:
    """``ScoreHistogram`` edges on [0, 1]: 0, 1, ``threshold`` and the reference's score quantiles.

    Inner edges: the quantiles j/bins (j = 1 … bins − 1, inverse empirical CDF, ties collapsed)
    of the finite reference ``scores`` clipped to [0, 1]; when ``labels`` hold ≥ ``bins`` rows
    of each class (positive = ``positive_label``), of ½F₊ + ½F₋, so both classes get bins
    where they are dense. On a 3 %-prevalence model with scores crowded near 0 (AUC 0.96) the
    AUC binning bound is then 0.003 and the average-precision binning range −0.007/+0.034;
    plain score quantiles leave −0.11/+0.21 (the positives share the top bins with many
    negatives), and k/20 equal-width bins put ~90 % of rows in the first bin (AUC off by 0.04).
    Without a finite reference score the edges are k/bins (exact decimals).
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError("the decision threshold must lie strictly between 0 and 1")
    inner = _score_quantiles(bins, scores, labels, positive_label) if scores is not None else []
    if not inner:
        inner = [k / bins for k in range(1, bins)]
    return tuple(sorted({0.0, 1.0, threshold, *(e for e in inner if 0.0 < e < 1.0)}))


def _score_quantiles(
    bins: int, scores: FloatArray, labels: Labels | FloatArray | None, positive_label: str | None
) -> list[float]:
    """Quantiles j/bins of the finite scores, class-balanced when both classes have ``bins`` rows."""
    values = np.asarray(scores, dtype=np.float64)
    rows = np.isfinite(values)
    weights: FloatArray | None = None
    if labels is not None and positive_label is not None and len(labels) == values.size:
        positive = np.asarray([v == positive_label for v in labels], dtype=bool) & rows
        negative = np.asarray([v is not None for v in labels], dtype=bool) & ~positive & rows
        n_pos, n_neg = int(positive.sum()), int(negative.sum())
        if min(n_pos, n_neg) >= bins:
            rows = positive | negative
            weights = np.where(positive, 0.5 / n_pos, 0.5 / n_neg)[rows]
    if not rows.any():
        return []
    levels = np.arange(1, bins) / bins
    quantiles = np.quantile(np.clip(values[rows], 0.0, 1.0), levels, method="inverted_cdf", weights=weights)
    return [float(q) for q in np.unique(quantiles)]


def _fit_classes(task: Task, reference: Batch, positive_label: str | None) -> tuple[str, ...]:
    if task == "regression":
        return ()
    seen: set[str] = {positive_label} if positive_label is not None else set()
    for column in (reference.labels, reference.predictions):
        if column is not None:
            seen.update(nfc(value) for value in column if isinstance(value, str))
    return tuple(sorted(seen))


def fit_layout(
    *,
    task: Task,
    reference: Batch,
    positive_label: str | None = None,
    classes: Sequence[str] | None = None,
    intersections: Sequence[Sequence[str]] = (),
    threshold: float = 0.5,
    bins: int = 100,
    coarse_bins: int = 10,
    top_k: int = 20,
    attribute_top_k: int = 10,
    score_bins: int = SCORE_BINS,
    multivariate: bool = True,
) -> Layout:
    """Fit every bin and vocabulary on the ``reference`` batch (once per model version).

    Protected attributes keep their ``attribute_top_k`` most frequent values, the rest
    pool into "(other)", so the number of groups per attribute is at most
    attribute_top_k + 2 (with "(missing)"). ``multivariate``: fit the PCA of the numeric
    features (``multivariate.fit_multivariate``).
    """
    class_list = tuple(classes) if classes is not None else _fit_classes(task, reference, positive_label)
    attributes = tuple(
        fit_vocabulary(name, column, top_k=attribute_top_k) for name, column in reference.attributes.items()
    )
    for attribute in attributes:
        if RESERVED & set(attribute.values):
            raise ValueError(f"attribute {attribute.name!r} uses a reserved group name {sorted(RESERVED)}")
    prediction: NumericBins | Vocabulary | None = None
    if task == "regression" and reference.predictions is not None:
        preds = np.asarray(reference.predictions, dtype=np.float64)
        prediction = fit_numeric("prediction", preds, bins=bins, coarse_bins=coarse_bins)
    elif task != "regression":
        prediction = Vocabulary("prediction", class_list)
    has_scores = reference.scores is not None and bool(np.isfinite(reference.scores).any())
    return Layout(
        task=task,
        numeric=tuple(
            fit_numeric(n, v, bins=bins, coarse_bins=coarse_bins) for n, v in reference.numeric.items()
        ),
        categorical=tuple(fit_vocabulary(n, v, top_k=top_k) for n, v in reference.categorical.items()),
        attributes=attributes,
        intersections=tuple(tuple(c) for c in intersections),
        classes=class_list,
        positive_label=positive_label,
        threshold=threshold,
        score_edges=score_edges(
            bins=score_bins,
            threshold=threshold,
            scores=reference.scores,
            labels=reference.labels,
            positive_label=positive_label,
        ),
        prediction=prediction,
        score=fit_numeric("score", reference.scores, bins=bins, coarse_bins=coarse_bins)
        if has_scores and reference.scores is not None
        else None,
        multivariate=fit_multivariate(
            reference.numeric, rows=reference.rows, bins=bins, coarse_bins=coarse_bins
        )
        if multivariate
        else None,
    )
