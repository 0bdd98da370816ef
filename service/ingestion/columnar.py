"""Columnar request bodies: Parquet (``application/vnd.apache.parquet``) and the Arrow IPC stream
format (``application/vnd.apache.arrow.stream``) for predictions and outcomes.

A body is one table with flat columns. Predictions: ``id``, ``timestamp``, ``prediction``
(required), ``score``, ``version``, ``subject_id`` (optional), then one column per feature and
per protected attribute under its registered name. Outcomes: ``prediction_id``, ``timestamp``
and ``label`` (``value`` for regression). Class scores and attributions are nested and stay
JSON-only.

The table is checked column-wise first (names and Arrow types: one error per column, index
null). A table whose every value passes is then built into records by whole columns
(``vectorised.py``); any other one has its rows take the JSON path's record checks
(``records.py``). Either way a flat row is stored exactly as the same record sent as JSON would
be, and refused with the same messages, their fields renamed to the flat columns
(``features.income`` → ``income``).

Time: a ``timestamp`` column is an Arrow timestamp with a time zone (any unit; nanoseconds are
truncated to microseconds, the stored precision) or ISO 8601 text as in JSON. A timestamp
column without a time zone is refused, as a naive ISO string is in JSON: "naive" means local
time to some writers (pandas) and UTC to others, and guessing would shift events by hours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from service.errors import INVALID_TEXT, ApiError, BadRequest, FieldError, Invalid
from service.ingestion import vectorised
from service.ingestion.records import PredictionRecord
from service.ingestion.validation import EventTimes
from service.registry.schemas import Task
from service.registry.service import RegisteredModel

PARQUET = "application/vnd.apache.parquet"
ARROW_STREAM = "application/vnd.apache.arrow.stream"
COLUMNAR_TYPES = frozenset({PARQUET, ARROW_STREAM})
_FORMAT_NAMES = {PARQUET: "Parquet", ARROW_STREAM: "Arrow IPC stream"}

PREDICTION_COLUMNS = ("id", "timestamp", "version", "prediction", "score", "subject_id")
REQUIRED_PREDICTION_COLUMNS = ("id", "timestamp", "prediction")


def is_columnar(content_type: str) -> bool:
    return content_type in COLUMNAR_TYPES


def read_table(body: bytes, content_type: str, max_rows: int, key: str) -> pa.Table:
    """The body's table; 400 for bytes that are not the format, 422 for more than ``max_rows``
    rows, known from the Parquet footer or while streaming record batches, before decoding all
    of them (a few KiB of compressed Parquet can hold millions of rows)."""
    try:
        if content_type == PARQUET:
            parquet = pq.ParquetFile(pa.BufferReader(body))
            _check_rows(parquet.metadata.num_rows, max_rows, key)
            # One thread: requests already run in parallel, and on 2 cores pyarrow's pool made
            # a 1,000-row body take 6.7 ms to decode against 3.6 ms without it.
            table = parquet.read(use_threads=False)
        else:
            table = _read_stream(body, max_rows, key)
        table = _plain_strings(table)
        _refuse_unstorable_text(table)
        return table
    except ApiError:
        raise
    except (pa.ArrowException, OSError, ValueError, TypeError) as error:
        kind = _FORMAT_NAMES[content_type]
        raise BadRequest(
            f"the body is not a readable {kind} document: {error}",
            [FieldError(None, "body", f"expected {kind} bytes ({content_type})")],
        ) from None


def _plain_strings(table: pa.Table) -> pa.Table:
    """String-view columns (Arrow's newer text layout, which some writers send) as plain strings:
    every check after this one reads ``string`` and ``large_string`` only."""
    for at, field in enumerate(table.schema):
        if pa.types.is_string_view(field.type):
            table = table.set_column(at, field.name, pc.cast(table.column(at), pa.string()))
    return table


def _refuse_unstorable_text(table: pa.Table) -> None:
    """400 for a text column holding NUL (Postgres text cannot) or bytes that are not UTF-8,
    as JSON bodies with such strings are refused (``body.py``)."""
    for name, column in zip(table.column_names, table.columns, strict=True):
        data_type = _value_type(column.type)
        if not (pa.types.is_string(data_type) or pa.types.is_large_string(data_type)):
            continue
        if pa.types.is_dictionary(column.type):
            column = pc.cast(column, data_type)
        try:
            column.validate(full=True)
        except pa.ArrowInvalid:
            raise BadRequest(f"{name} {INVALID_TEXT}", [FieldError(None, name, INVALID_TEXT)]) from None
        if pc.any(pc.match_substring(column, "\x00")).as_py():
            raise BadRequest(f"{name} {INVALID_TEXT}", [FieldError(None, name, INVALID_TEXT)])


def _read_stream(body: bytes, max_rows: int, key: str) -> pa.Table:
    batches: list[pa.RecordBatch] = []
    rows = 0
    with ipc.open_stream(pa.BufferReader(body)) as reader:
        schema = reader.schema
        for batch in reader:
            rows += batch.num_rows
            _check_rows(rows, max_rows, key)
            batches.append(batch)
    return pa.Table.from_batches(batches, schema=schema)


def _check_rows(rows: int, limit: int, key: str) -> None:
    if rows > limit:
        raise Invalid(
            f"the batch has {rows} records or more; the limit is {limit} (MODELMON_MAX_BATCH_SIZE); "
            "nothing was stored",
            [FieldError(None, key, f"{rows} records, more than {limit}")],
        )


@dataclass(frozen=True, slots=True)
class Kinds:
    """What each column may hold: Arrow type families, checked once per column."""

    numbers: frozenset[str]
    categories: frozenset[str]
    identifiers: frozenset[str]
    times: frozenset[str]
    texts: frozenset[str]


def _type_problem(column: str, data_type: pa.DataType, kinds: Kinds) -> str | None:
    """Why a column of ``data_type`` cannot hold ``column``, or None (null columns always can)."""
    if pa.types.is_null(data_type):
        return None
    integer = pa.types.is_integer(data_type)
    text = pa.types.is_string(data_type) or pa.types.is_large_string(data_type)
    if column in kinds.times:
        if pa.types.is_timestamp(data_type):
            return None if data_type.tz else "a timestamp column without a time zone; store it as UTC"
        return None if text else f"expected timestamps with a time zone, got {data_type}"
    if column in kinds.numbers and not (integer or pa.types.is_floating(data_type)):
        return f"expected numbers, got {data_type}"
    if column in kinds.identifiers and not (integer or text):
        return f"expected text or integer ids, got {data_type}"
    if column in kinds.categories and not (integer or text or pa.types.is_boolean(data_type)):
        return f"expected text, integer or boolean categories, got {data_type}"
    if column in kinds.texts and not text:
        return f"expected text, got {data_type}"
    return None


def _check_columns(table: pa.Table, allowed: dict[str, str], required: tuple[str, ...], kinds: Kinds) -> None:
    """422 with one error per unknown, missing or mistyped column (index null)."""
    errors: list[FieldError] = []
    expected = ", ".join(allowed)
    for name, data_type in zip(table.column_names, table.schema.types, strict=True):
        if name not in allowed:
            errors.append(FieldError(None, name, f"unknown column (expected some of: {expected})"))
            continue
        problem = _type_problem(name, _value_type(data_type), kinds)
        if problem is not None:
            errors.append(FieldError(None, name, f"column {name!r} ({allowed[name]}): {problem}"))
    errors += [
        FieldError(None, name, "required column") for name in required if name not in table.column_names
    ]
    if len(set(table.column_names)) < len(table.column_names):
        errors.append(FieldError(None, "body", "a column name appears twice"))
    if errors:
        raise Invalid(f"{len(errors)} columns are invalid; nothing was stored", errors)


def _value_type(data_type: pa.DataType) -> pa.DataType:
    return data_type.value_type if pa.types.is_dictionary(data_type) else data_type


def _values(table: pa.Table, name: str, numeric: bool = False) -> list[Any]:
    """A column as Python values (None for null): dictionaries decoded, timestamps as ISO text
    in their zone (parsed as JSON's are), integers of numeric columns as floats."""
    column = table.column(name)
    data_type = _value_type(column.type)
    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, data_type)
    if pa.types.is_timestamp(data_type):
        column = pc.cast(column, pa.string())
    elif numeric and pa.types.is_integer(data_type):
        column = pc.cast(column, pa.float64(), safe=False)
    values: list[Any] = column.to_pylist()
    return values


def _prediction_layout(model: RegisteredModel) -> tuple[dict[str, str], list[str], list[str], Kinds]:
    features: dict[str, bool] = {}
    attributes: set[str] = set()
    for spec in model.versions.values():
        features.update((name, numeric) for name, numeric in spec.feature_kinds)
        attributes |= set(spec.protected_attributes)
    allowed = dict.fromkeys(PREDICTION_COLUMNS, "prediction field")
    allowed |= {name: "feature" for name in features if name not in allowed}
    allowed |= {name: "protected attribute" for name in sorted(attributes) if name not in allowed}
    regression = model.latest.task is Task.REGRESSION
    numbers = (
        {n for n, numeric in features.items() if numeric}
        | {"score"}
        | ({"prediction"} if regression else set())
    )
    categories = {n for n, numeric in features.items() if not numeric} | attributes
    kinds = Kinds(
        numbers=frozenset(numbers),
        categories=frozenset(categories | (set() if regression else {"prediction"})),
        identifiers=frozenset({"id", "subject_id"}),
        times=frozenset({"timestamp"}),
        texts=frozenset({"version"}),
    )
    feature_names = [n for n in features if allowed.get(n) == "feature"]
    return allowed, feature_names, sorted(attributes), kinds


def fast_predictions(
    table: pa.Table, model: RegisteredModel, times: EventTimes, pseudonymise: Callable[[str], str]
) -> list[PredictionRecord] | None:
    """After the column checks (422), the records by whole columns when every value passes
    (``vectorised.py``); None when some value needs the record checks to be named."""
    allowed, _, _, kinds = _prediction_layout(model)
    _check_columns(table, allowed, REQUIRED_PREDICTION_COLUMNS, kinds)
    return vectorised.fast_predictions(table, model, times, pseudonymise)


def prediction_records(table: pa.Table, model: RegisteredModel) -> list[dict[str, Any]]:
    """The table's rows as JSON-shaped prediction records, after the column checks (422).

    A row of a version that lacks a feature column leaves that feature out when its value is
    null; the record checks then name whatever a version needs and the row does not give."""
    allowed, feature_names, attribute_names, kinds = _prediction_layout(model)
    _check_columns(table, allowed, REQUIRED_PREDICTION_COLUMNS, kinds)
    present = set(table.column_names)
    fields = [n for n in PREDICTION_COLUMNS if n in present]
    sent_features = [n for n in feature_names if n in present]
    sent_attributes = [n for n in attribute_names if n in present]
    numeric = kinds.numbers
    columns = [_values(table, n, n in numeric) for n in (*fields, *sent_features, *sent_attributes)]
    split, end = len(fields), len(fields) + len(sent_features)
    records: list[dict[str, Any]] = []
    for values in zip(*columns, strict=True):
        record = dict(zip(fields, values[:split], strict=True))
        record["features"] = dict(zip(sent_features, values[split:end], strict=True))
        if sent_attributes:
            attributes = dict(zip(sent_attributes, values[end:], strict=True))
            record["attributes"] = {k: v for k, v in attributes.items() if v is not None}
        records.append(record)
    if len(model.versions) > 1:
        _leave_out_other_versions(records, model)
    return records


def _leave_out_other_versions(records: list[dict[str, Any]], model: RegisteredModel) -> None:
    """Null features that the row's version does not register are not the row's (a non-null
    one is refused by the record checks, as in JSON)."""
    for record in records:
        spec = model.versions.get(record.get("version") or model.latest.version)
        if spec is None:
            continue  # the record checks name the unknown version
        features = record["features"]
        for name in [n for n, v in features.items() if v is None and n not in spec.feature_types]:
            del features[name]


def outcome_records(table: pa.Table, model: RegisteredModel) -> list[dict[str, Any]]:
    """The table's rows as JSON-shaped outcome records, after the column checks (422)."""
    truth = "value" if model.latest.task is Task.REGRESSION else "label"
    allowed = {"prediction_id": "outcome field", truth: "outcome field", "timestamp": "outcome field"}
    kinds = Kinds(
        numbers=frozenset({"value"}),
        categories=frozenset({"label"}),
        identifiers=frozenset({"prediction_id"}),
        times=frozenset({"timestamp"}),
        texts=frozenset(),
    )
    _check_columns(table, allowed, ("prediction_id", truth, "timestamp"), kinds)
    names = list(allowed)
    columns = [_values(table, n, n == "value") for n in names]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def _flat(field: str) -> str:
    """``features.income`` → ``income``; ``attributes.sex`` → ``sex``; others unchanged."""
    head, _, rest = field.partition(".")
    return rest if head in ("features", "attributes") and rest else field


@contextmanager
def flat_field_names(active: bool) -> Iterator[None]:
    """While ``active``, the errors of a 422 raised inside name flat columns, not JSON paths."""
    try:
        yield
    except Invalid as error:
        if not active:
            raise
        error.errors = [FieldError(e.index, _flat(e.field), e.message) for e in error.errors]
        raise
