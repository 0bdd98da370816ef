"""Stored event rows → the columnar ``Batch`` the statistics core profiles.

Stored features are already clean (ingestion validated them): numeric values are floats
or None, categorical values text or None, attributes text or None. A row holds the fields
of ``EventRow`` in its order from position ``offset`` on (event reads put the id, version
and time first, and are used as read: wrapping 10^5 rows per pass in objects cost ~15% of
aggregation); missing labels are None (classification) or NaN (regression).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from service.kernel import coded
from service.registry.service import VersionSpec
from service.stats.layout import Batch
from service.storage.columnar import Kind


class EventRow(NamedTuple):
    """One prediction (or reference row) with its outcome, as read for profiling."""

    features: dict[str, Any]
    predicted_label: str | None
    predicted_value: float | None
    score: float | None
    attributes: dict[str, Any] | None
    attributions: dict[str, float] | None
    label: str | None
    value: float | None


def _floats(values: Sequence[Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    # numpy turns None into NaN for a float dtype: one C loop instead of a Python one.
    return np.array(values, dtype=np.float64)


def _texts(values: Sequence[Any]) -> np.ndarray[Any, np.dtype[np.object_]]:
    return np.array(values, dtype=object)


FEATURES, PREDICTED_LABEL, PREDICTED_VALUE, SCORE, ATTRIBUTES, ATTRIBUTIONS, LABEL, VALUE = range(8)


def to_batch(
    spec: VersionSpec, rows: Sequence[Sequence[Any]], *, offset: int = 0, with_labels: bool = True
) -> Batch:
    """Columns of ``rows`` (``EventRow`` fields from position ``offset``) for ``spec``."""
    o = offset
    features = [row[o + FEATURES] for row in rows]
    numeric = {name: _floats([f.get(name) for f in features]) for name in spec.numeric_features}
    categorical = {
        name: _texts([f.get(name) for f in features]) for name, is_num in spec.feature_kinds if not is_num
    }
    regression = spec.task.value == "regression"
    predictions: Any
    labels: Any = None
    if regression:
        predictions = _floats([row[o + PREDICTED_VALUE] for row in rows])
        if with_labels:
            labels = _floats([row[o + VALUE] for row in rows])
    else:
        predictions = _texts([row[o + PREDICTED_LABEL] for row in rows])
        if with_labels:
            labels = _texts([row[o + LABEL] for row in rows])
    binary = spec.task.value == "binary_classification"
    scores = _floats([row[o + SCORE] for row in rows]) if binary else None
    if scores is not None and not (predictions != None).any():  # noqa: E711 - element-wise
        predictions = None  # score-only binary model: the layout's threshold decides
    empty: dict[str, Any] = {}
    attributes = {
        name: _texts([(row[o + ATTRIBUTES] or empty).get(name) for row in rows])
        for name in sorted(spec.protected_attributes)
    }
    return Batch(
        rows=len(rows),
        numeric=numeric,
        categorical=categorical,
        predictions=predictions,
        scores=scores,
        labels=labels,
        attributes=attributes,
        attributions=_attributions([row[o + ATTRIBUTIONS] for row in rows]),
    )


def _attributions(per_row: Sequence[dict[str, float] | None]) -> dict[str, Any]:
    names: set[str] = set()
    for attributions in per_row:
        if attributions:
            names.update(attributions)
    empty: dict[str, float] = {}
    return {name: _floats([(a or empty).get(name) for a in per_row]) for name in sorted(names)}


# ------------------------------------------------------------------ columnar events
# Event columns as ``storage.columnar`` reads them: the plain ones under these names, and a
# JSON field per feature ("f:<name>"), protected attribute ("a:<name>") and attribution
# ("x:<feature>"). A feature numeric in one version and categorical in another is read as
# text and turned into floats for the versions where it is numeric.
ID, VERSION, SECONDS, OUTCOME = "id", "version", "seconds", "outcome"
PLAIN: tuple[tuple[str, Kind], ...] = (
    (ID, "int"),
    (VERSION, "int"),
    (SECONDS, "int"),
    ("predicted_label", "text"),
    ("predicted_value", "float"),
    ("score", "float"),
    ("label", "text"),
    ("value", "float"),
    (OUTCOME, "int"),  # the joined outcome's id, 0 for none
)


@dataclass(frozen=True, slots=True)
class EventColumns:
    """Events in columns (one numpy array per column, all of ``rows`` rows)."""

    columns: Mapping[str, np.ndarray[Any, Any]]

    @property
    def rows(self) -> int:
        return len(self.columns[ID])

    def __len__(self) -> int:
        return self.rows

    def take(self, index: np.ndarray[Any, np.dtype[np.int64]]) -> EventColumns:
        return EventColumns({name: coded.take(column, index) for name, column in self.columns.items()})


def feature_column(name: str) -> str:
    """The event column of feature ``name``."""
    return f"f:{name}"


def packed_features(specs: Iterable[VersionSpec]) -> tuple[str, ...]:
    """The numeric features a read of ``specs`` takes from the packed column: those of the
    specs when they all have the same (a row holds its own version's, so one width and order
    per read), else none."""
    orders = {spec.numeric_features for spec in specs}
    return orders.pop() if len(orders) == 1 else ()


def event_fields(specs: Iterable[VersionSpec]) -> list[tuple[str, str, str, Kind]]:
    """(column name, JSON document, key, kind) of every field the ``specs`` read:
    document is "features", "attributes" or "attributions"."""
    kinds: dict[str, set[bool]] = {}
    attributes: set[str] = set()
    for spec in specs:
        for name, is_numeric in spec.feature_kinds:
            kinds.setdefault(name, set()).add(is_numeric)
        attributes.update(spec.protected_attributes)
    out: list[tuple[str, str, str, Kind]] = [
        (feature_column(name), "features", name, "float" if seen == {True} else "text")
        for name, seen in sorted(kinds.items())
    ]
    out += [(f"a:{name}", "attributes", name, "text") for name in sorted(attributes)]
    out += [(f"x:{name}", "attributions", name, "float") for name in sorted(kinds)]
    return out


def _as_floats(column: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    if column.dtype == np.float64:
        return column
    return _floats([None if v is None else float(v) for v in column.tolist()])


def outcomes_after(events: EventColumns, watermark: int) -> int:
    """How many of ``events`` carry an outcome with id past ``watermark``."""
    return int(np.count_nonzero(events.columns[OUTCOME] > watermark))


def score_only(events: EventColumns, rows: np.ndarray[Any, np.dtype[np.int64]]) -> bool:
    """Whether none of ``rows`` has a predicted label (a binary model sent scores only)."""
    return not (events.columns["predicted_label"][rows] != None).any()  # noqa: E711 - element-wise


def batch_of(spec: VersionSpec, events: EventColumns, *, with_labels: bool = True) -> Batch:
    """The ``Batch`` of ``events`` (all of one version) for ``spec``: what ``to_batch`` gives
    for the same rows, column by column without a per-row loop (one for a feature read as
    text that is numeric in this version)."""
    c = events.columns
    regression = spec.task.value == "regression"
    predictions: Any = c["predicted_value"] if regression else c["predicted_label"]
    labels: Any = (c["value"] if regression else c["label"]) if with_labels else None
    scores = c["score"] if spec.task.value == "binary_classification" else None
    if scores is not None and not (predictions != None).any():  # noqa: E711 - element-wise
        predictions = None  # score-only binary model: the layout's threshold decides
    attributions = {
        name: c[f"x:{name}"] for name in sorted(spec.feature_types) if not np.isnan(c[f"x:{name}"]).all()
    }
    return Batch(
        rows=events.rows,
        numeric={name: _as_floats(c[feature_column(name)]) for name in spec.numeric_features},
        categorical={name: c[feature_column(name)] for name, is_num in spec.feature_kinds if not is_num},
        predictions=predictions,
        scores=scores,
        labels=labels,
        attributes={name: c[f"a:{name}"] for name in sorted(spec.protected_attributes)},
        attributions=attributions,
    )
