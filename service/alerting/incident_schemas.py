"""Bodies of the incident endpoints and the ``data`` of incident webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from service.alerting.incident_rules import IncidentState
from service.alerting.schemas import ALERT_EXAMPLE, AlertView


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CauseView(_Strict):
    """One likely cause: data-quality incidents first, then drifted inputs by how far past
    their threshold they are (``strength`` = |value − threshold| / |threshold|)."""

    kind: str = Field(description="data, input, or unexplained")
    subject: str = Field(description="The drifted feature, 'data', or '' when unexplained.")
    incident_id: int | None = Field(description="The incident holding that cause's alerts.")
    strength: float | None
    why: str


class SliceCellView(_Strict):
    kind: str = Field(description="attribute, categorical or numeric")
    column: str
    value: str


class SliceView(_Strict):
    """A slice whose metric was significantly worse than the rest of the incident's span
    (Benjamini–Hochberg at 5% over every slice tested; docs/statistics-outcomes.md)."""

    slice: list[SliceCellView]
    metric: str
    n: int
    value: float
    ci_low: float
    ci_high: float
    rest_value: float
    gap: float = Field(description="How much worse than the rest (positive = worse).")
    q_value: float


class NoteView(_Strict):
    by: str
    at: datetime
    note: str


INCIDENT_EXAMPLE: dict[str, Any] = {
    "id": 7,
    "model": "credit-scoring",
    "state": "open",
    "kind": "performance",
    "cause": "performance",
    "severity": "critical",
    "title": "credit-scoring: performance (roc_auc, accuracy); likely cause: input income drifted",
    "causes": [
        {"kind": "input", "subject": "income", "incident_id": 5, "strength": 1.31,
         "why": "input income drifted in the same windows, 131% past its threshold"},
    ],
    "window_start": "2026-11-20T12:00:00Z",
    "window_end": "2026-11-23T12:00:00Z",
    "opened_at": "2026-11-22T10:00:09Z",
    "updated_at": "2026-11-23T12:00:09Z",
    "resolved_at": None,
    "alerts": 3,
    "open_alerts": 3,
    "acknowledged_at": None,
    "acknowledged_by": None,
    "notes": [],
}  # fmt: skip


class IncidentView(_Strict):
    """One incident: firing alerts of one model that share a cause, over overlapping windows."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [INCIDENT_EXAMPLE]})

    id: int
    model: str
    state: IncidentState
    kind: str = Field(description="data, input, performance or fairness")
    cause: str = Field(description="The grouping key, e.g. 'input:income' (docs/alerting.md).")
    severity: str
    title: str
    causes: list[CauseView] = Field(description="Likely causes, most likely first.")
    window_start: datetime
    window_end: datetime
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    alerts: int = Field(description="How many alerts joined it.")
    open_alerts: int = Field(description="How many of them are not resolved.")
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    notes: list[NoteView] = Field(description="Every acknowledgement: who, when, what was done.")
    slices: list[SliceView] = Field(
        default_factory=list, description="A performance incident's top failing slices, worst first."
    )


class IncidentPage(_Strict):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"items": [INCIDENT_EXAMPLE], "next_before": None}]},
    )
    items: list[IncidentView]
    next_before: int | None = Field(description="Pass as `before` for the next (older) page.")


class IncidentDetail(_Strict):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"incident": INCIDENT_EXAMPLE, "alerts": [ALERT_EXAMPLE]}]},
    )
    incident: IncidentView
    alerts: list[AlertView] = Field(description="Its alerts, oldest first.")


class IncidentAcknowledge(_Strict):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [{"by": "alice", "note": "income pipeline rolled back to yesterday's build"}]
        },
    )
    by: Annotated[str, Field(min_length=1, max_length=200)]
    note: Annotated[str, Field(min_length=1, max_length=1000, description="What was done, or is being done.")]
