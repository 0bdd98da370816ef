"""The fast path of a columnar prediction batch: every check the record path makes, made once
per column with pyarrow compute, then the records built without a per-value check.

A batch takes it when all its values pass: one version for every row, the version's feature
columns all present, numbers finite and within ±1e50, text ASCII (so already NFC) and within
the length limits, labels among the version's classes, times inside the event horizon. Any
column that does not pass sends the whole batch through the record path (``records.py``),
which finds and names every problem; so this path never decides what is an error, and a
batch it takes yields the records the record path would, value for value (the columnar tests
compare the stored rows with those of the same records sent as JSON).

Cost, 1,000 rows × 20 features on this shared 2-core machine (timeit, best of 5, two runs):
28-34 ms against 42-65 ms for the same rows through the record path; about 8 ms of either is
the records' content hashes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from service.ingestion.records import PredictionRecord
from service.ingestion.validation import LARGEST_INTEGER_TEXT, EventTimes
from service.kernel import grid
from service.registry.schemas import Task
from service.registry.service import RegisteredModel, VersionSpec
from service.stats.bins import MAX_MAGNITUDE
from service.storage.base import ID_LENGTH, LABEL_LENGTH
from service.storage.columnar import PACKED_DTYPE

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIXED = frozenset({"id", "timestamp", "version", "prediction", "score", "subject_id"})
Values = list[Any]


def _plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        return pc.cast(column, column.type.value_type)
    return column


def _true(condition: Any) -> bool:
    """A compute result that is true; null (every value null) counts as true."""
    value = condition.as_py()
    return value is None or bool(value)


def _numbers(column: pa.ChunkedArray, *, nullable: bool) -> Values | None:
    """Floats (None for null) when every value is finite and within ±MAX_MAGNITUDE."""
    column = _plain(column)
    if pa.types.is_null(column.type):
        return [None] * len(column) if nullable else None
    if column.null_count and not nullable:
        return None
    numbers = pc.cast(column, pa.float64(), safe=False)
    if not _true(pc.all(pc.is_finite(numbers))):
        return None
    bounds = pc.min_max(numbers).as_py()
    if bounds["min"] is not None and not -MAX_MAGNITUDE <= bounds["min"] <= bounds["max"] <= MAX_MAGNITUDE:
        return None
    values: Values = numbers.to_pylist()
    return values


def _texts(
    column: pa.ChunkedArray, *, nullable: bool, longest: int, shortest: int = 0, ascii_only: bool = True
) -> Values | None:
    """Strings (None for null) as the record path reads them: text of ``shortest``..``longest``
    characters, ASCII (so NFC already) where ``ascii_only`` (categories: the record path
    normalises others); integers below 10^18 and booleans as text."""
    column = _plain(column)
    if pa.types.is_null(column.type):
        return [None] * len(column) if nullable else None
    if column.null_count and not nullable:
        return None
    if pa.types.is_integer(column.type):
        bounds = pc.min_max(column).as_py()
        if (
            bounds["min"] is not None
            and not -LARGEST_INTEGER_TEXT < bounds["min"] <= bounds["max"] < LARGEST_INTEGER_TEXT
        ):
            return None
        column = pc.cast(column, pa.string())
    elif pa.types.is_boolean(column.type):
        column = pc.cast(column, pa.string())  # "true" / "false", as the record path writes them
    elif ascii_only and not _true(pc.all(pc.string_is_ascii(column))):
        return None
    lengths = pc.min_max(pc.utf8_length(column)).as_py()
    if lengths["min"] is not None and not shortest <= lengths["min"] <= lengths["max"] <= longest:
        return None
    values: Values = column.to_pylist()
    return values


def _times(column: pa.ChunkedArray, times: EventTimes) -> Values | None:
    """Aware datetimes (UTC) when every time is present and accepted (``EventTimes``)."""
    column = _plain(column)
    if not pa.types.is_timestamp(column.type) or column.type.tz is None or column.null_count:
        return None
    micros = pc.cast(pc.cast(column, pa.timestamp("us", tz="UTC"), safe=False), pa.int64())
    bounds = pc.min_max(micros).as_py()
    earliest = max(times.earliest, grid.FIRST)
    if bounds["min"] is None or bounds["min"] < _micros(earliest):
        return None
    if bounds["max"] > _micros(times.latest) or bounds["max"] >= _micros(grid.LAST):
        return None
    return [EPOCH + timedelta(microseconds=value) for value in micros.to_pylist()]


def _micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def _labels(column: pa.ChunkedArray, spec: VersionSpec) -> Values | None:
    labels = _texts(column, nullable=False, longest=LABEL_LENGTH)
    if labels is None or not set(labels) <= spec.class_set:
        return None
    return labels


def _version(table: pa.Table, model: RegisteredModel) -> VersionSpec | None:
    """The one version of every row (null: the latest), or None for several or an unknown one."""
    if "version" not in table.column_names:
        return model.latest
    column = _plain(table.column("version"))
    names = set(pc.unique(column).drop_null().to_pylist())
    if column.null_count:
        names.add(model.latest.version)
    if len(names) > 1:
        return None
    return model.versions.get(names.pop()) if names else model.latest


def _subjects(table: pa.Table, pseudonymise: Callable[[str], str]) -> Values | None:
    if "subject_id" not in table.column_names:
        return [None] * table.num_rows
    subjects = _texts(
        table.column("subject_id"), nullable=True, longest=ID_LENGTH, shortest=1, ascii_only=False
    )
    if subjects is None:
        return None
    return [None if subject is None else pseudonymise(subject) for subject in subjects]


def _scores(column: pa.ChunkedArray, regression: bool) -> Values | None:
    """Probabilities in [0, 1] or null; regression models send none."""
    scores = _numbers(column, nullable=True)
    if scores is None or (regression and column.null_count < len(column)):
        return None
    bounds = pc.min_max(pc.cast(_plain(column), pa.float64(), safe=False)).as_py()
    return scores if bounds["min"] is None or 0.0 <= bounds["min"] <= bounds["max"] <= 1.0 else None


def _columns(table: pa.Table, spec: VersionSpec) -> dict[str, Values | None] | None:
    """Every column's values (None for one that fails its checks), or None when the table's
    columns are not exactly this version's (a feature missing, an attribute of another)."""
    names = set(table.column_names)
    features = [name for name, _ in spec.feature_kinds]
    others = names - FIXED - set(features)
    if not set(features) <= names or not others <= spec.protected_attributes:
        return None
    values: dict[str, Values | None] = {
        name: _numbers(table.column(name), nullable=True)
        if numeric
        else _texts(table.column(name), nullable=True, longest=LABEL_LENGTH)
        for name, numeric in spec.feature_kinds
    }
    values |= {name: _texts(table.column(name), nullable=True, longest=LABEL_LENGTH) for name in others}
    regression = spec.task is Task.REGRESSION
    if "score" in names:
        values["score"] = _scores(table.column("score"), regression)
    prediction = table.column("prediction")
    values["prediction"] = _numbers(prediction, nullable=False) if regression else _labels(prediction, spec)
    values["id"] = _texts(table.column("id"), nullable=False, longest=ID_LENGTH, shortest=1, ascii_only=False)
    return values


def fast_predictions(
    table: pa.Table, model: RegisteredModel, times: EventTimes, pseudonymise: Callable[[str], str]
) -> list[PredictionRecord] | None:
    """The records of a table whose every value passes, or None (then the record path runs)."""
    spec = _version(table, model)
    columns = None if spec is None else _columns(table, spec)
    if spec is None or columns is None:
        return None
    checked = {name: values for name, values in columns.items() if values is not None}
    event_times = _times(table.column("timestamp"), times)
    subjects = _subjects(table, pseudonymise)
    if len(checked) < len(columns) or event_times is None or subjects is None:
        return None
    return _records(spec, checked, event_times, subjects, table.num_rows)


def _records(
    spec: VersionSpec, columns: dict[str, Values], event_times: Values, subjects: Values, n: int
) -> list[PredictionRecord]:
    features = [name for name, _ in spec.feature_kinds]
    blank = dict.fromkeys(sorted(spec.protected_attributes))
    sent = [name for name in blank if name in columns]
    feature_rows = zip(*(columns[name] for name in features), strict=True) if features else [()] * n
    attribute_rows = zip(*(columns[name] for name in sent), strict=True) if sent else [()] * n
    regression = spec.task is Task.REGRESSION
    predictions = columns["prediction"]
    labels = [None] * n if regression else predictions
    values = predictions if regression else [None] * n
    rows = zip(columns["id"], event_times, feature_rows, labels, values, attribute_rows, strict=True)
    scores = columns.get("score", [None] * n)
    packed = _packed(spec, columns, n)
    return [
        PredictionRecord(
            prediction_id,
            at,
            spec,
            dict(zip(features, feature_values, strict=True)),
            label,
            value,
            score,
            None,
            {**blank, **dict(zip(sent, attribute_values, strict=True))},
            None,
            subject,
            numbers,
        )
        for (
            prediction_id,
            at,
            feature_values,
            label,
            value,
            attribute_values,
        ), score, subject, numbers in zip(rows, scores, subjects, packed, strict=True)
    ]


def _packed(spec: VersionSpec, columns: dict[str, Values], n: int) -> list[bytes] | list[None]:
    """Each row's numeric features packed as ``pack_floats`` packs them (little-endian doubles in
    the version's order, NaN for None), all rows by one numpy copy: ~0.3 ms per 1,000 rows of 15
    features against ~2 ms one row at a time."""
    names = spec.numeric_features
    if not names:
        return [None] * n
    matrix = np.empty((n, len(names)), dtype=PACKED_DTYPE)
    for j, name in enumerate(names):
        matrix[:, j] = np.array(columns[name], dtype=np.float64)  # None → NaN
    data, width = matrix.tobytes(), PACKED_DTYPE.itemsize * len(names)
    return [data[start : start + width] for start in range(0, n * width, width)]
