"""Bodies of the ingestion endpoints.

The request models document the API (OpenAPI at /docs); the endpoints validate bodies with
the faster field-by-field checks in :mod:`service.ingestion.validation`, which enforce the
same rules plus the model's own schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Label = str | int | bool
FeatureValue = float | str | None


class PredictionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | int = Field(description="Client-chosen id, unique per model; a resend is a duplicate.")
    timestamp: datetime = Field(description="When the prediction was made; ISO 8601 with a timezone.")
    version: str | None = Field(None, description="Model version; default: the latest registered.")
    features: dict[str, FeatureValue] = Field(
        description="Every feature of the version; null = missing. Numbers finite, |x| ≤ 1e50; "
        "text is stored in Unicode NFC, and NaN for a category is null."
    )
    prediction: Label | float = Field(
        description="Predicted class label, or the value for regression (|x| ≤ 1e50)."
    )
    score: float | None = Field(
        None, ge=0, le=1, description="Probability of the positive (or predicted) class."
    )
    scores: dict[str, float] | None = Field(None, description="Multiclass: probability per class.")
    attributes: dict[str, Label | None] = Field(
        default_factory=dict, description="Protected attributes; text in NFC, NaN is null."
    )
    attributions: dict[str, float] | None = Field(
        None, description="Per-feature explanation values (e.g. SHAP)."
    )
    subject_id: str | None = Field(None, description="Whose record this is (for erasure requests).")


class PredictionBatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "predictions": [
                        {
                            "id": "req-0001",
                            "timestamp": "2026-11-22T10:00:00Z",
                            "features": {"income": 52000, "loan_amount": 12000, "employment": "salaried"},
                            "prediction": 1,
                            "score": 0.83,
                            "attributes": {"sex": "F", "age_band": "25-34"},
                            "attributions": {"income": 0.31, "loan_amount": -0.12, "employment": 0.05},
                        }
                    ]
                }
            ]
        },
    )

    predictions: list[PredictionIn]


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prediction_id: str | int = Field(description="The id of the prediction this outcome belongs to.")
    label: Label | None = Field(None, description="Classification: the true class.")
    value: float | None = Field(None, description="Regression: the true value (|x| ≤ 1e50).")
    timestamp: datetime = Field(description="When the outcome became known; ISO 8601 with a timezone.")


class OutcomeBatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"outcomes": [{"prediction_id": "req-0001", "label": 0, "timestamp": "2026-11-22T10:30:00Z"}]}
            ]
        },
    )

    outcomes: list[OutcomeIn]


class ReferenceRowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    features: dict[str, FeatureValue]
    prediction: Label | float
    score: float | None = Field(None, ge=0, le=1)
    scores: dict[str, float] | None = None
    label: Label | float = Field(description="The true outcome (a number for regression).")
    attributes: dict[str, Label | None] = Field(default_factory=dict)
    attributions: dict[str, float] | None = None


class ReferenceUpload(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "version": "2026-11-01",
                    "rows": [
                        {
                            "features": {"income": 48000, "loan_amount": 9000, "employment": "salaried"},
                            "prediction": 0,
                            "score": 0.22,
                            "label": 0,
                            "attributes": {"sex": "M", "age_band": "35-44"},
                        }
                    ],
                }
            ]
        },
    )

    version: str | None = Field(None, description="Default: the latest registered version.")
    rows: list[ReferenceRowIn]


class IngestResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"accepted": 998, "duplicates": 2, "outcomes_joined": 0}]}
    )

    accepted: int = Field(description="Records stored by this request (committed).")
    duplicates: int = Field(description="Records already stored with identical content; not stored again.")
    outcomes_joined: int = Field(
        0, description="Of the accepted predictions, those whose outcome had arrived first."
    )


class OutcomeResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"accepted": 400, "duplicates": 0, "joined": 380, "waiting": 20}]}
    )

    accepted: int
    duplicates: int
    joined: int = Field(description="Of the accepted outcomes, those whose prediction is stored.")
    waiting: int = Field(description="Of the accepted outcomes, those kept until their prediction arrives.")


class ReferenceResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "accepted": 5000,
                    "duplicates": 0,
                    "version": "2026-11-01",
                    "rows": 5000,
                    "content_hash": "3f7a…",
                    "created_at": "2026-11-22T10:00:00Z",
                    "replaced": False,
                }
            ]
        }
    )

    accepted: int
    duplicates: int
    version: str
    rows: int
    content_hash: str
    created_at: datetime
    replaced: bool = Field(description="True when this upload replaced an earlier reference.")


# Schemas referenced by hand-documented request bodies; merged into the OpenAPI components.
COMPONENT_SCHEMAS: dict[str, Any] = {}


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    COMPONENT_SCHEMAS.update(schema.pop("$defs", {}))
    return schema


_COLUMNAR_BODY = {"type": "string", "format": "binary"}


def columnar_content(columns: str) -> dict[str, Any]:
    """The Parquet and Arrow IPC stream entries of a requestBody (service/ingestion/columnar.py)."""
    return {
        media: {"schema": {**_COLUMNAR_BODY, "description": f"{name} with flat columns: {columns}"}}
        for media, name in (
            ("application/vnd.apache.parquet", "One Parquet file"),
            ("application/vnd.apache.arrow.stream", "One Arrow IPC stream"),
        )
    }


PREDICTION_COLUMNS_DOC = (
    "`id`, `timestamp` (an Arrow timestamp with a time zone, or ISO 8601 text; a timestamp without a "
    "time zone is refused), `prediction`, optional `score`, `version`, `subject_id`, and one column per "
    "feature and per protected attribute under its registered name. Class scores and attributions are "
    "JSON-only. Errors name the row index and the column."
)
OUTCOME_COLUMNS_DOC = (
    "`prediction_id`, `label` (`value` for regression models) and `timestamp` (as for predictions). "
    "Errors name the row index and the column."
)


def request_body_doc(
    model: type[BaseModel], ndjson_item: type[BaseModel], columns: str | None = None
) -> dict[str, Any]:
    """OpenAPI requestBody for an endpoint that reads its body itself (JSON or NDJSON; with
    ``columns``, Parquet and Arrow IPC stream too)."""
    schema = _schema(model)
    examples = schema.pop("examples", [])
    item_schema = _schema(ndjson_item)
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": schema, **({"example": examples[0]} if examples else {})},
                "application/x-ndjson": {
                    "schema": {**item_schema, "description": "One record per line."},
                },
                **({} if columns is None else columnar_content(columns)),
            },
        }
    }
