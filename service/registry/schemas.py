"""Request and response bodies of the model registry."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import orjson
from fastapi import Path
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from service.errors import INVALID_TEXT, find_invalid_text
from service.names import refuse_invisible

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
# The `{name}` path parameter of every /v1/models/{name}/… route.
ModelNamePath = Annotated[str, Path(pattern=NAME_PATTERN, examples=["credit-scoring"])]
VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$"
MAX_FEATURES = 2_000
MAX_METADATA_BYTES = 16_384

ModelName = Annotated[str, Field(pattern=NAME_PATTERN, examples=["credit-scoring"])]
VersionName = Annotated[str, Field(pattern=VERSION_PATTERN, examples=["2026-11-01"])]


def _nfc_name(name: str) -> str:
    """Feature and attribute names must be in Unicode NFC; others are refused, not rewritten.

    Ingested values are compared in NFC, but a name is an identifier the client spells the
    same way in every record and configuration: silently registering "é" composed when the
    client wrote it decomposed would make every record it sends name an unknown feature.
    Refusing once, with the NFC spelling in the message, fixes it at the source.
    """
    if not name.isascii() and not unicodedata.is_normalized("NFC", name):
        fixed = unicodedata.normalize("NFC", name)
        raise ValueError(f"{name!r} is not in Unicode NFC; use its NFC spelling {fixed!r}")
    return name


# Control and bidi characters are refused first (service/names.py), naming the code point.
FieldName = Annotated[
    str, Field(min_length=1, max_length=128), AfterValidator(refuse_invisible), AfterValidator(_nfc_name)
]
# A class label as sent: text, integer or boolean. Stored as canonical text (see canonical_label).
Label = StrictStr | StrictInt | StrictBool


def canonical_label(value: str | int | bool) -> str:
    """The text form a label is stored and compared in: True → "true", 1 → "1", "yes" → "yes";
    text in Unicode NFC, as ingestion compares labels ("é" composed or decomposed is one label)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return text if text.isascii() else unicodedata.normalize("NFC", text)


class Task(StrEnum):
    BINARY = "binary_classification"
    MULTICLASS = "multiclass_classification"
    REGRESSION = "regression"


class FeatureType(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


class FeatureSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: FieldName
    type: FeatureType


class ModelRegistration(BaseModel):
    """``POST /v1/models``: a model version and everything needed to monitor it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "credit-scoring",
                    "version": "2026-11-01",
                    "task": "binary_classification",
                    "features": [
                        {"name": "income", "type": "numeric"},
                        {"name": "loan_amount", "type": "numeric"},
                        {"name": "employment", "type": "categorical"},
                    ],
                    "protected_attributes": ["sex", "age_band"],
                    "positive_label": 1,
                    "metadata": {
                        "mlflow_run_id": "8f2c1e",
                        "training_data_sha256": "c0ffee",
                        "owner": "risk-ml",
                    },
                }
            ]
        },
    )

    name: ModelName
    version: VersionName
    task: Task
    features: list[FeatureSpec] = Field(min_length=1, max_length=MAX_FEATURES)
    protected_attributes: list[FieldName] = Field(default_factory=list, max_length=32)
    positive_label: Label | None = Field(None, validate_default=True)
    classes: list[Label] | None = Field(default=None, max_length=1_000, validate_default=True)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        where = find_invalid_text(data)
        if where is not None:
            raise ValueError(f"{where} {INVALID_TEXT}")
        return data

    @field_validator("features")
    @classmethod
    def _unique_features(cls, value: list[FeatureSpec]) -> list[FeatureSpec]:
        _require_unique([f.name for f in value])
        return value

    @field_validator("protected_attributes")
    @classmethod
    def _unique_attributes(cls, value: list[str]) -> list[str]:
        _require_unique(value)
        return value

    @field_validator("positive_label")
    @classmethod
    def _positive_label_fits_task(cls, value: Label | None, info: ValidationInfo) -> Label | None:
        task = info.data.get("task")
        if task is Task.REGRESSION and value is not None:
            raise ValueError("regression models take no positive_label")
        if task is Task.BINARY and value is None:
            raise ValueError("binary_classification needs positive_label (the label that means 'selected')")
        return value

    @field_validator("classes")
    @classmethod
    def _classes_fit_task(cls, value: list[Label] | None, info: ValidationInfo) -> list[Label] | None:
        task, positive = info.data.get("task"), info.data.get("positive_label")
        labels = None if value is None else [canonical_label(c) for c in value]
        if labels is not None:
            _require_unique(labels)
        if task is Task.REGRESSION:
            if value is not None:
                raise ValueError("regression models take no classes")
        elif task is Task.MULTICLASS and (labels is None or len(labels) < 2):
            raise ValueError("multiclass_classification needs classes: the list of at least 2 labels")
        elif task is Task.BINARY and labels is not None and len(labels) != 2:
            raise ValueError("binary_classification takes exactly 2 classes")
        elif (
            task is Task.BINARY
            and labels is None
            and positive is not None
            and canonical_label(positive) not in _IMPLIED_NEGATIVE
        ):
            raise ValueError(
                "classes is required for binary_classification unless positive_label is 1 or true"
            )
        if labels is not None and positive is not None and canonical_label(positive) not in labels:
            raise ValueError(f"positive_label {positive!r} must be one of classes")
        return value

    @field_validator("metadata")
    @classmethod
    def _small_metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            size = len(orjson.dumps(value))
        except orjson.JSONEncodeError as error:  # e.g. an integer beyond 64 bits
            raise ValueError(f"cannot be stored as JSON: {error}") from None
        if size > MAX_METADATA_BYTES:
            raise ValueError(f"larger than {MAX_METADATA_BYTES} bytes of JSON")
        return value

    def class_labels(self) -> list[str]:
        """Canonical class labels; for binary without ``classes``: the implied pair."""
        if self.classes is not None:
            return [canonical_label(c) for c in self.classes]
        if self.task is Task.BINARY and self.positive_label is not None:
            positive = canonical_label(self.positive_label)
            return [_IMPLIED_NEGATIVE[positive], positive]
        return []


_IMPLIED_NEGATIVE = {"1": "0", "true": "false"}


def _require_unique(names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"lists {name!r} twice")
        seen.add(name)


VERSION_EXAMPLE: dict[str, Any] = {
    "name": "credit-scoring",
    "version": "2026-11-01",
    "task": "binary_classification",
    "features": [{"name": "income", "type": "numeric"}, {"name": "employment", "type": "categorical"}],
    "protected_attributes": ["sex", "age_band"],
    "positive_label": "1",
    "classes": ["0", "1"],
    "metadata": {"mlflow_run_id": "8f2c1e"},
    "spec_hash": "9b1d…",
    "created_at": "2026-11-22T10:00:00Z",
}


class ModelVersionView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [VERSION_EXAMPLE]})

    name: str
    version: str
    task: Task
    features: list[FeatureSpec]
    protected_attributes: list[str]
    positive_label: str | None = Field(description="canonical text form of the positive label")
    classes: list[str] | None
    metadata: dict[str, Any]
    spec_hash: str = Field(description="sha256 of the canonical task + schema")
    created_at: datetime


class EventCounts(BaseModel):
    predictions: int
    outcomes: int
    outcomes_joined: int = Field(description="outcomes whose prediction has arrived")
    outcomes_waiting: int = Field(description="outcomes whose prediction has not arrived yet")


class VersionSummary(BaseModel):
    version: str
    created_at: datetime
    predictions: int
    reference_rows: int = Field(description="rows of the active reference; 0 when none is uploaded")


class ModelDetail(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "credit-scoring",
                    "created_at": "2026-11-22T10:00:00Z",
                    "latest_version": "2026-11-01",
                    "versions": [VERSION_EXAMPLE],
                    "counts": {
                        "predictions": 10000,
                        "outcomes": 400,
                        "outcomes_joined": 380,
                        "outcomes_waiting": 20,
                    },
                    "version_counts": [
                        {
                            "version": "2026-11-01",
                            "created_at": "2026-11-22T10:00:00Z",
                            "predictions": 10000,
                            "reference_rows": 5000,
                        }
                    ],
                }
            ]
        }
    )

    name: str
    created_at: datetime
    latest_version: str
    versions: list[ModelVersionView]
    counts: EventCounts
    version_counts: list[VersionSummary]


class ModelSummary(BaseModel):
    name: str
    created_at: datetime
    latest_version: str
    versions: list[str]


class ModelList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "models": [
                        {
                            "name": "credit-scoring",
                            "created_at": "2026-11-22T10:00:00Z",
                            "latest_version": "2026-11-01",
                            "versions": ["2026-10-01", "2026-11-01"],
                        }
                    ]
                }
            ]
        }
    )

    models: list[ModelSummary]
