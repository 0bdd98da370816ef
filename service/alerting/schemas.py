"""Bodies of the alerts, silences and retraining-request endpoints."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from service.alerting.labels import LABEL_NAMES
from service.alerting.states import AlertState
from service.kernel.durations import Duration
from service.names import DisplayName
from service.ranges import GridMoment


class AlertFamily(StrEnum):
    DRIFT = "drift"
    DATA_QUALITY = "data_quality"
    PERFORMANCE = "performance"
    ESTIMATED_PERFORMANCE = "estimated_performance"
    FAIRNESS = "fairness"
    EXPLANATION = "explanation"
    NO_DATA = "no_data"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ALERT_EXAMPLE: dict[str, Any] = {
    "id": 42,
    "fingerprint": "5f0c9d2b6a1e4f7c8d3b2a1908f7e6d5c4b3a2918f7e6d5c4b3a29180f7e6d5c",
    "state": "firing",
    "severity": "warning",
    "labels": {
        "alertname": "ModelmonFeatureDrift",
        "model": "credit-scoring",
        "version": "2026-11-01",
        "family": "drift",
        "metric": "drift_score",
        "feature": "income",
        "severity": "warning",
    },
    "model": "credit-scoring",
    "version": "2026-11-01",
    "family": "drift",
    "metric": "drift_score",
    "feature": "income",
    "attribute": None,
    "group": None,
    "value": 0.231,
    "threshold": 0.1,
    "resolve_threshold": 0.08,
    "window_start": "2026-11-21T10:00:00Z",
    "window_end": "2026-11-22T10:00:00Z",
    "summary": "credit-scoring 2026-11-01: drift_score of income is 0.231 (threshold 0.1) in "
    "2026-11-21 10:00–2026-11-22 10:00 UTC",
    "started_at": "2026-11-22T09:00:12Z",
    "fired_at": "2026-11-22T10:00:09Z",
    "resolved_at": None,
    "silenced_by": None,
    "acknowledged_at": None,
    "acknowledged_by": None,
    "acknowledge_comment": None,
    "incident_id": 7,
}


class AlertView(_Strict):
    """One alert. ``resolve_threshold`` is the bound the value must get back past to resolve."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [ALERT_EXAMPLE]})

    id: int
    fingerprint: str
    state: AlertState
    severity: str
    labels: dict[str, str]
    model: str
    version: str | None
    family: str
    metric: str
    feature: str | None
    attribute: str | None
    group: str | None
    value: float | None
    threshold: float | None
    resolve_threshold: float | None
    window_start: datetime | None
    window_end: datetime | None
    summary: str
    started_at: datetime
    fired_at: datetime | None
    resolved_at: datetime | None
    silenced_by: int | None = Field(description="The silence muting its notifications, if any.")
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledge_comment: str | None
    incident_id: int | None = Field(
        None,
        description="The incident it joined when it fired (`GET /v1/incidents/{id}`); null while "
        "pending, and in its own `alert.firing` webhook (grouping follows in the same pass).",
    )


class AlertPage(_Strict):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"items": [ALERT_EXAMPLE], "next_before": None}]},
    )
    items: list[AlertView]
    next_before: int | None = Field(description="Pass as `before` for the next (older) page.")


class TransitionView(_Strict):
    from_state: str
    to_state: str
    at: datetime
    window_end: datetime | None
    value: float | None
    silenced_by: int | None
    notified: bool


class HistoryPoint(_Strict):
    """The alert's figure in one window (latest revision)."""

    window_start: datetime
    window_end: datetime
    revision: int
    value: float | None
    ci_low: float | None
    ci_high: float | None
    threshold: float | None
    n: int
    status: str


DETAIL_EXAMPLE: dict[str, Any] = {
    "alert": ALERT_EXAMPLE,
    "transitions": [
        {"from_state": "none", "to_state": "pending", "at": "2026-11-22T09:00:12Z",
         "window_end": "2026-11-22T09:00:00Z", "value": 0.214, "silenced_by": None, "notified": False},
        {"from_state": "pending", "to_state": "firing", "at": "2026-11-22T10:00:09Z",
         "window_end": "2026-11-22T10:00:00Z", "value": 0.231, "silenced_by": None, "notified": True},
    ],
    "history": [
        {"window_start": "2026-11-21T10:00:00Z", "window_end": "2026-11-22T10:00:00Z", "revision": 1,
         "value": 0.231, "ci_low": None, "ci_high": None, "threshold": 0.1, "n": 2880, "status": "alert"},
    ],
}  # fmt: skip


class AlertDetail(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [DETAIL_EXAMPLE]})
    alert: AlertView
    transitions: list[TransitionView]
    history: list[HistoryPoint] = Field(description="Newest first, up to 100 windows.")


class Acknowledge(_Strict):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"by": "alice", "comment": "looking at the income pipeline"}]},
    )
    by: Annotated[str, Field(min_length=1, max_length=200)]
    comment: Annotated[str, Field(max_length=1000)] = ""


_LABEL_LIST = ", ".join(LABEL_NAMES)


class MatcherBody(_Strict):
    name: str = Field(description=f"A label: {_LABEL_LIST}.")
    value: Annotated[str, Field(max_length=500)]
    regex: bool = Field(False, description="`value` is an anchored regular expression.")
    equal: bool = Field(True, description="False: the silence applies where the label does NOT match.")

    @field_validator("name")
    @classmethod
    def _known_label(cls, value: str) -> str:
        if value not in LABEL_NAMES:
            raise ValueError(f"unknown label {value!r}; one of {_LABEL_LIST}")
        return value

    @model_validator(mode="after")
    def _compiles(self) -> MatcherBody:
        if self.regex:
            try:
                re.compile(self.value)
            except re.error as error:
                raise ValueError(f"value is not a regular expression: {error}") from error
        return self


class SilenceCreate(_Strict):
    """Mute notifications of matching alerts until ``ends_at`` (or for ``duration``)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "matchers": [
                        {"name": "model", "value": "credit-scoring"},
                        {"name": "family", "value": "drift"},
                    ],
                    "duration": "4h",
                    "created_by": "alice",
                    "comment": "planned marketing campaign shifts the income mix",
                }
            ]
        },
    )

    matchers: Annotated[list[MatcherBody], Field(min_length=1, max_length=20)]
    starts_at: GridMoment | None = Field(None, description="Default: now.")
    ends_at: GridMoment | None = None
    duration: Duration | None = Field(None, description="Instead of ends_at: how long from starts_at.")
    created_by: Annotated[DisplayName, Field(min_length=1, max_length=200)]
    comment: Annotated[str, Field(min_length=1, max_length=1000)]

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("needs a timezone (e.g. 2026-11-22T18:00:00Z)")
        return value

    @field_validator("duration")
    @classmethod
    def _positive(cls, value: int | None) -> int | None:
        if value is not None and value <= 0:
            raise ValueError("must be positive")
        return value


SILENCE_EXAMPLE: dict[str, Any] = {
    "id": 7,
    "matchers": [{"name": "model", "value": "credit-scoring", "regex": False, "equal": True}],
    "starts_at": "2026-11-22T10:05:00Z",
    "ends_at": "2026-11-22T14:05:00Z",
    "active": True,
    "created_by": "alice",
    "comment": "planned marketing campaign shifts the income mix",
    "created_at": "2026-11-22T10:05:00Z",
    "expired_at": None,
}


class SilenceView(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [SILENCE_EXAMPLE]})
    id: int
    matchers: list[MatcherBody]
    starts_at: datetime
    ends_at: datetime
    active: bool
    created_by: str
    comment: str
    created_at: datetime
    expired_at: datetime | None


RETRAIN_EXAMPLE: dict[str, Any] = {
    "id": 3,
    "model": "credit-scoring",
    "version": "2026-11-01",
    "idempotency_key": "retrain:credit-scoring:2026-11-22T10:00:00+00:00",
    "window_start": "2026-11-21T10:00:00Z",
    "window_end": "2026-11-22T10:00:00Z",
    "created_at": "2026-11-22T16:00:04Z",
    "evidence": {
        "model": "credit-scoring",
        "version": "2026-11-01",
        "reasons": [
            {"alert_id": 41, "family": "performance", "metric": "roc_auc", "value": 0.61, "threshold": 0.75}
        ],
        "window": {"start": "2026-11-21T10:00:00+00:00", "end": "2026-11-22T10:00:00+00:00"},
        "top_drifted_features": [{"feature": "income", "drift_score": 0.31, "threshold": 0.1}],
        "label_coverage": 0.9,
        "export": "https://modelmon.example.com/v1/models/credit-scoring/export?from=…&to=…&format=ndjson",
    },
}


class RetrainRequestView(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [RETRAIN_EXAMPLE]})
    id: int
    model: str
    version: str | None
    idempotency_key: str
    window_start: datetime
    window_end: datetime
    created_at: datetime
    evidence: dict[str, Any]
