"""Records as the ingestion API takes them, checked cheaply and encoded once on the caller's thread.

Encoding at log time (not in the background thread) costs the caller ~10-20 µs per prediction
of 20 features, and buys three things: a record the caller mutates afterwards is not changed
in flight; a value JSON cannot carry is refused at the line that logged it rather than breaking
a whole batch later; and the background thread never holds the GIL for milliseconds encoding a
batch, which would stall the model's own threads. A resend is byte-identical, so the server
counts it as a duplicate (it compares the content of a resent id with what it stored).

The checks here are the cheap ones (types, ranges, timezones); the model's schema (feature
names, classes, protected attributes) is checked by the server, which names each bad record.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# The server's limits (service/storage/base.py): ids and subject ids, in characters.
ID_LENGTH = 200
# Integer ids above this are refused by the server (beyond 64 bits is not an id).
LARGEST_INTEGER_ID = 10**18

RecordId = str | int
Scalar = str | int | float | bool | None

PREDICTION_KEYS = frozenset(
    {"id", "features", "prediction", "score", "scores", "attributes", "attributions", "subject_id"}
    | {"timestamp", "version"}
)
OUTCOME_KEYS = frozenset({"prediction_id", "label", "value", "timestamp"})


class InvalidRecord(ValueError):
    """A record the client refuses before queueing it; the message names the field."""


def new_id() -> str:
    """A random (version 4) UUID: unique without coordination, so any replica may log."""
    return str(uuid.uuid4())


def record_id(value: Any, field: str) -> RecordId:
    if value is None:
        return new_id()
    if isinstance(value, str) and 0 < len(value) <= ID_LENGTH:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < LARGEST_INTEGER_ID:
        return int(value)
    raise InvalidRecord(
        f"{field}: expected a non-empty string of at most {ID_LENGTH} characters or an integer"
    )


def timestamp_text(value: Any, field: str = "timestamp") -> str:
    """ISO 8601 with a timezone; None is now (UTC). A naive datetime is refused, not guessed:
    ``datetime.now()`` is local time, and reading it as UTC would shift every window."""
    if value is None:
        return datetime.now(UTC).isoformat()
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise InvalidRecord(f"{field}: a naive datetime; use datetime.now(UTC) or add a tzinfo")
        return value.isoformat()
    if isinstance(value, str) and value:
        return value
    raise InvalidRecord(f"{field}: expected a timezone-aware datetime or an ISO 8601 string")


def scalar(value: Any, field: str) -> Scalar:
    """A JSON scalar; numpy scalars become Python ones (``.item()``); NaN becomes null."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value  # type: ignore[no-any-return]
    if kind is float:
        if math.isnan(value):
            return None  # pandas and numpy spell "missing" as NaN; the API spells it null
        if math.isinf(value):
            raise InvalidRecord(f"{field}: infinite number")
        return value  # type: ignore[no-any-return]
    item = getattr(value, "item", None)
    if callable(item):
        return scalar(item(), field)
    if isinstance(value, float):
        return scalar(float(value), field)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str(value)
    raise InvalidRecord(f"{field}: {kind.__name__} is not a number, string, boolean or None")


_PLAIN = frozenset({str, int, bool, type(None)})


def _scalars(values: Any, field: str) -> dict[str, Scalar]:
    """A copy of a mapping of scalars (the caller may change its own afterwards)."""
    if not isinstance(values, Mapping):
        raise InvalidRecord(f"{field}: expected a mapping of name to value, got {type(values).__name__}")
    copy: dict[str, Scalar] = {}
    # Inlined fast path: ~20 values per prediction pass here on the model's own thread.
    for name, value in values.items():
        kind = type(value)
        if (kind is float and not value - value) or kind in _PLAIN:  # x - x is 0.0 iff x is finite
            copy[name] = value
        else:
            copy[name] = scalar(value, f"{field}.{name}")
    return copy


def _number(value: Any, field: str) -> float:
    number = scalar(value, field)
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        raise InvalidRecord(f"{field}: expected a finite number")
    return number


def _numbers(values: Any, field: str) -> dict[str, float]:
    return {name: _number(value, f"{field}.{name}") for name, value in _scalars(values, field).items()}


def _probability(value: Any, field: str) -> float:
    number = _number(value, field)
    if not 0.0 <= number <= 1.0:
        raise InvalidRecord(f"{field}: {number} is outside [0, 1]")
    return number


def _label(value: Any, field: str) -> Scalar:
    label = scalar(value, field)
    if label is None:
        raise InvalidRecord(f"{field}: required")
    return label


def encode(record: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON; NaN is refused (the API has no NaN), as is text that is not Unicode."""
    try:
        return json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except (ValueError, TypeError, UnicodeEncodeError) as error:
        raise InvalidRecord(f"cannot be encoded as JSON: {error}") from None


def prediction(
    *,
    features: Any,
    prediction: Any,
    id: Any = None,
    timestamp: Any = None,
    version: str | None = None,
    score: Any = None,
    scores: Any = None,
    attributes: Any = None,
    attributions: Any = None,
    subject_id: Any = None,
) -> tuple[RecordId, bytes]:
    """The id (generated when None) and the encoded prediction; :class:`InvalidRecord` if bad."""
    chosen = record_id(id, "id")
    record: dict[str, Any] = {"id": chosen, "timestamp": timestamp_text(timestamp)}
    if version is not None:
        record["version"] = str(version)
    record["features"] = _scalars(features, "features")
    record["prediction"] = _label(prediction, "prediction")
    if score is not None:
        record["score"] = _probability(score, "score")
    if scores is not None:
        record["scores"] = {k: _probability(v, f"scores.{k}") for k, v in _scalars(scores, "scores").items()}
    if attributes is not None:
        record["attributes"] = _scalars(attributes, "attributes")
    if attributions is not None:
        record["attributions"] = _numbers(attributions, "attributions")
    if subject_id is not None:
        record["subject_id"] = record_id(subject_id, "subject_id")
    return chosen, encode(record)


def outcome(*, prediction_id: Any, label: Any = None, value: Any = None, timestamp: Any = None) -> bytes:
    """The encoded outcome: ``label`` for classification, ``value`` for regression."""
    if prediction_id is None:
        raise InvalidRecord("prediction_id: required (the id log_prediction returned)")
    if (label is None) == (value is None):
        raise InvalidRecord("exactly one of label (classification) or value (regression) is required")
    record: dict[str, Any] = {"prediction_id": record_id(prediction_id, "prediction_id")}
    if label is not None:
        record["label"] = _label(label, "label")
    else:
        record["value"] = _number(value, "value")
    record["timestamp"] = timestamp_text(timestamp)
    return encode(record)


def unknown_keys(item: Mapping[str, Any], allowed: frozenset[str]) -> None:
    extra = sorted(set(item) - allowed)
    if extra:
        raise InvalidRecord(f"unknown field(s) {extra}; expected some of {sorted(allowed)}")
