"""Whole records: validated, normalised, and fingerprinted for duplicate detection."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, cast

import orjson

from service.errors import Invalid
from service.ingestion.validation import Checker, EventTimes, Scalar, resolve_version, unknown_fields
from service.registry.schemas import Task
from service.registry.service import RegisteredModel, VersionSpec
from service.storage.columnar import pack_floats

PREDICTION_FIELDS = frozenset(
    {
        "id",
        "timestamp",
        "version",
        "features",
        "prediction",
        "score",
        "scores",
        "attributes",
        "attributions",
        "subject_id",
    }
)
OUTCOME_FIELDS = frozenset({"prediction_id", "label", "value", "timestamp"})
T = TypeVar("T")

REFERENCE_FIELDS = frozenset(
    {"features", "prediction", "score", "scores", "label", "attributes", "attributions"}
)


def fingerprint(content: list[Any]) -> bytes:
    """16-byte BLAKE2b of the canonical JSON of a normalised record (keys sorted)."""
    return hashlib.blake2b(orjson.dumps(content, option=orjson.OPT_SORT_KEYS), digest_size=16).digest()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class PredictionContent(Protocol):
    """A prediction as sent (``PredictionRecord``) or as stored (a ``predictions`` row)."""

    @property
    def event_time(self) -> datetime: ...
    @property
    def features(self) -> dict[str, Any]: ...
    @property
    def predicted_label(self) -> str | None: ...
    @property
    def predicted_value(self) -> float | None: ...
    @property
    def score(self) -> float | None: ...
    @property
    def scores(self) -> dict[str, float] | None: ...
    @property
    def attributes(self) -> dict[str, Any]: ...
    @property
    def attributions(self) -> dict[str, float] | None: ...
    @property
    def subject_id(self) -> str | None: ...


class OutcomeContent(Protocol):
    """An outcome as sent (``OutcomeRecord``) or as stored (an ``outcomes`` row)."""

    @property
    def label(self) -> str | None: ...
    @property
    def value(self) -> float | None: ...
    @property
    def outcome_time(self) -> datetime: ...


def _hashed_time(moment: datetime) -> datetime | str:
    """``moment`` as the hash reads it: ``_iso``'s text, which orjson writes itself (~1.5 µs
    less a record) for a time already in UTC."""
    return moment if moment.tzinfo is UTC else _iso(moment)


def prediction_content(
    event: PredictionContent, version: str | None, time_text: Callable[[datetime], Any] = _iso
) -> dict[str, Any]:
    """The content that decides duplicate (same) versus conflict (different), in the API's
    field names: one definition for the record's hash and the stored row's comparison."""
    return {
        "timestamp": time_text(event.event_time),
        "version": version,
        "features": event.features,
        "prediction": event.predicted_label if event.predicted_value is None else event.predicted_value,
        "score": event.score,
        "scores": event.scores,
        "attributes": event.attributes,
        "attributions": event.attributions,
        "subject_id": event.subject_id,
    }


def outcome_content(event: OutcomeContent) -> dict[str, Any]:
    """As ``prediction_content``, for an outcome."""
    return {"label": event.label, "value": event.value, "timestamp": _iso(event.outcome_time)}


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    prediction_id: str
    event_time: datetime
    version: VersionSpec
    features: dict[str, Scalar]
    predicted_label: str | None
    predicted_value: float | None
    score: float | None
    scores: dict[str, float] | None
    attributes: dict[str, str | None]
    attributions: dict[str, float] | None
    subject_id: str | None
    # The numeric features already packed (``pack_floats`` in the version's order), by a
    # columnar batch that packs all its rows at once; None: packed from ``features`` when read.
    packed: bytes | None = field(default=None, repr=False, compare=False)
    digest: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Computed once: the batch de-duplication and the stored row both need it.
        content = prediction_content(self, self.version.version, _hashed_time)
        object.__setattr__(self, "digest", fingerprint([self.prediction_id, content]))

    def comparable(self) -> dict[str, Any]:
        return prediction_content(self, self.version.version)

    def content_hash(self) -> bytes:
        return self.digest

    @property
    def numbers(self) -> bytes | None:
        """The numeric features packed in the version's schema order (``predictions.numbers``,
        which reads use instead of the document); None for a version without numeric features."""
        if self.packed is not None:
            return self.packed
        names = self.version.numeric_features
        # Validation left a numeric feature a float or None.
        return pack_floats(cast("list[float | None]", list(map(self.features.get, names)))) if names else None


@dataclass(frozen=True, slots=True)
class OutcomeRecord:
    prediction_id: str
    label: str | None
    value: float | None
    outcome_time: datetime
    digest: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", fingerprint([self.prediction_id, self.comparable()]))

    def comparable(self) -> dict[str, Any]:
        return outcome_content(self)

    def content_hash(self) -> bytes:
        return self.digest


@dataclass(frozen=True, slots=True)
class ReferenceRecord:
    features: dict[str, Scalar]
    predicted_label: str | None
    predicted_value: float | None
    score: float | None
    scores: dict[str, float] | None
    label: str | None
    value: float | None
    attributes: dict[str, str | None]
    attributions: dict[str, float] | None

    def content_hash(self) -> bytes:
        return fingerprint(
            [
                self.features,
                self.predicted_label,
                self.predicted_value,
                self.score,
                self.scores,
                self.label,
                self.value,
                self.attributes,
                self.attributions,
            ]
        )


def _prediction_value(
    checker: Checker, index: int, value: Any, spec: VersionSpec
) -> tuple[str | None, float | None]:
    if spec.task is Task.REGRESSION:
        return None, checker.number(index, "prediction", value)
    return checker.label(index, "prediction", value, spec), None


def _score(checker: Checker, index: int, record: dict[str, Any], spec: VersionSpec) -> float | None:
    raw = record.get("score")
    if raw is None:
        return None
    if spec.task is Task.REGRESSION:
        checker.fail(index, "score", "regression models send no score; the prediction is the value")
        return None
    return checker.probability(index, "score", raw)


def _required(checker: Checker, index: int, record: dict[str, Any], names: tuple[str, ...]) -> bool:
    missing = [name for name in names if name not in record]
    for name in missing:
        checker.fail(index, name, "required")
    return not missing


def prediction_record(
    checker: Checker,
    index: int,
    record: Any,
    model: RegisteredModel,
    times: EventTimes,
    pseudonymise: Callable[[str], str],
) -> PredictionRecord | None:
    """The record, validated; its ``subject_id`` is replaced by its pseudonym (never stored raw)."""
    if not isinstance(record, dict):
        checker.fail(index, "", "each prediction must be a JSON object")
        return None
    before = checker.count
    unknown_fields(checker, index, record, PREDICTION_FIELDS)
    if not _required(checker, index, record, ("id", "timestamp", "features", "prediction")):
        return None
    spec = resolve_version(checker, index, record.get("version"), model)
    prediction_id = checker.identifier(index, "id", record["id"])
    event_time = checker.timestamp(index, "timestamp", record["timestamp"], times)
    if spec is None:
        return None
    features = checker.features(index, record["features"], spec)
    label, value = _prediction_value(checker, index, record["prediction"], spec)
    score = _score(checker, index, record, spec)
    scores = checker.class_scores(index, record.get("scores"), spec)
    attributes = checker.attributes(index, record.get("attributes"), spec)
    attributions = checker.attributions(index, record.get("attributions"), spec)
    subject = record.get("subject_id")
    subject_id = None if subject is None else checker.identifier(index, "subject_id", subject)
    if checker.count > before:
        return None
    subject_id = None if subject_id is None else pseudonymise(subject_id)
    assert prediction_id is not None and event_time is not None and features is not None
    return PredictionRecord(
        prediction_id,
        event_time,
        spec,
        features,
        label,
        value,
        score,
        scores,
        attributes,
        attributions,
        subject_id,
    )


def outcome_record(
    checker: Checker, index: int, record: Any, model: RegisteredModel, times: EventTimes
) -> OutcomeRecord | None:
    if not isinstance(record, dict):
        checker.fail(index, "", "each outcome must be a JSON object")
        return None
    before = checker.count
    unknown_fields(checker, index, record, OUTCOME_FIELDS)
    task = model.latest.task
    truth = "value" if task is Task.REGRESSION else "label"
    wrong = "label" if truth == "value" else "value"
    if wrong in record:
        checker.fail(index, wrong, f"{task.value} outcomes carry {truth!r}, not {wrong!r}")
    if not _required(checker, index, record, ("prediction_id", truth, "timestamp")):
        return None
    prediction_id = checker.identifier(index, "prediction_id", record["prediction_id"])
    outcome_time = checker.timestamp(index, "timestamp", record["timestamp"], times)
    label = value = None
    if truth == "value":
        value = checker.number(index, "value", record["value"])
    else:
        label = _label_in_any_version(checker, index, record["label"], model)
    if checker.count > before:
        return None
    assert prediction_id is not None and outcome_time is not None
    return OutcomeRecord(prediction_id, label, value, outcome_time)


def _label_in_any_version(checker: Checker, index: int, value: Any, model: RegisteredModel) -> str | None:
    """An outcome names no version: its label must be a class of some version of the model."""
    for spec in reversed(model.versions.values()):
        probe = Checker([])
        label = probe.label(index, "label", value, spec)
        if label is not None:
            return label
    return checker.label(index, "label", value, model.latest)


def reference_record(checker: Checker, index: int, record: Any, spec: VersionSpec) -> ReferenceRecord | None:
    if not isinstance(record, dict):
        checker.fail(index, "", "each reference row must be a JSON object")
        return None
    before = checker.count
    unknown_fields(checker, index, record, REFERENCE_FIELDS)
    if not _required(checker, index, record, ("features", "prediction", "label")):
        return None
    features = checker.features(index, record["features"], spec)
    predicted_label, predicted_value = _prediction_value(checker, index, record["prediction"], spec)
    if spec.task is Task.REGRESSION:
        label, value = None, checker.number(index, "label", record["label"])
    else:
        label, value = checker.label(index, "label", record["label"], spec), None
    row = ReferenceRecord(
        features or {},
        predicted_label,
        predicted_value,
        _score(checker, index, record, spec),
        checker.class_scores(index, record.get("scores"), spec),
        label,
        value,
        checker.attributes(index, record.get("attributes"), spec),
        checker.attributions(index, record.get("attributions"), spec),
    )
    return None if checker.count > before else row


def validate_all(
    records: list[Any], build: Callable[[Checker, int, Any], T | None], max_errors_listed: int
) -> list[T]:
    """Apply ``build(checker, index, record)`` to every record; 422 listing the first
    ``max_errors_listed`` errors and counting all of them, if any."""
    checker = Checker([], max_errors_listed)
    valid = [build(checker, index, record) for index, record in enumerate(records)]
    if checker.count:
        raise Invalid(
            f"{checker.bad_records} of {len(records)} records are invalid; nothing was stored",
            checker.errors,
            error_count=checker.count,
        )
    return [record for record in valid if record is not None]
