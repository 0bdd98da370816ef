"""Flat columns (the columnar ingestion contract) → the ``Batch`` the statistics core profiles.

Columns: ``prediction``, ``score``, ``label`` (the joined outcome), one per feature and one
per protected attribute under its registered name; the layout says which exist and of what
kind. Values are normalised as ingestion validates JSON records, so that a profile built here
equals the one a fold of the same rows builds on the server: numbers as float64 (null → NaN),
categories as NFC text (integers as their digits, booleans as ``true``/``false``, null and NaN
as missing). Only numpy and ``service.stats`` are imported: Spark's Python workers import this
module, and so can any producer with its own engine.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from service.stats.layout import Batch, FloatArray, Labels, Layout, nfc

Column = Sequence[Any] | np.ndarray[Any, Any]


def floats(column: Column) -> FloatArray:
    """float64 with NaN for null (pandas hands nullable columns over as objects or floats)."""
    array = np.asarray(column)
    if array.dtype.kind in "fiu":
        return array.astype(np.float64)
    return np.array([math.nan if v is None else float(v) for v in array], dtype=np.float64)


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return nfc(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))  # an integer column with nulls reaches pandas as float64
    raise ValueError(f"{value!r} is not a category (text, integer or boolean)")


def texts(column: Column) -> Labels:
    return np.array([_text(v) for v in column], dtype=object)


def _classes(name: str, column: Labels, classes: Sequence[str]) -> Labels:
    known = set(classes)
    wrong = {v for v in column if v is not None and v not in known}
    if wrong:
        raise ValueError(
            f"column {name!r} holds {sorted(wrong)[:5]}, not classes of the model {list(classes)}"
        )
    return column


def _outputs(layout: Layout, columns: Mapping[str, Column], rows: int) -> dict[str, Any]:
    """predictions, scores and labels as ingestion stores them (score-only binary: None)."""
    regression = layout.task == "regression"
    missing: Column = [None] * rows
    raw_predictions, raw_labels = columns.get("prediction", missing), columns.get("label", missing)
    if regression:
        return {"predictions": floats(raw_predictions), "labels": floats(raw_labels), "scores": None}
    predictions = _classes("prediction", texts(raw_predictions), layout.classes)
    labels = _classes("label", texts(raw_labels), layout.classes)
    if layout.task != "binary_classification":
        return {"predictions": predictions, "labels": labels, "scores": None}
    scores = floats(columns.get("score", missing))
    if ((scores < 0) | (scores > 1)).any():
        raise ValueError("column 'score' holds values outside [0, 1]")
    # A score-only binary model (no prediction sent): the layout's threshold decides.
    sent = any(v is not None for v in predictions)
    return {"predictions": predictions if sent else None, "labels": labels, "scores": scores}


def batch_of(layout: Layout, columns: Mapping[str, Column], rows: int) -> Batch:
    """The batch of ``rows`` rows in ``columns``; a layout column absent here is all missing."""
    numeric = {c.name: floats(columns[c.name]) for c in layout.numeric if c.name in columns}
    categorical = {c.name: texts(columns[c.name]) for c in layout.categorical if c.name in columns}
    attributes = {
        a.name: texts(columns[a.name]) if a.name in columns else np.full(rows, None, dtype=object)
        for a in layout.attributes
    }
    return Batch(
        rows=rows, numeric=numeric, categorical=categorical, attributes=attributes,
        **_outputs(layout, columns, rows),
    )  # fmt: skip
