"""What the report endpoints are asked for and what they answer: the drift report's request
and sample, and the model card (one document, rendered as JSON or Markdown)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.alerting.schemas import AlertView
from service.monitors.schemas import MonitorConfig
from service.registry.schemas import FeatureSpec, Task

# Longest [from, to) one drift report may cover: the longest monitor window (90 d).
MAX_REPORT_RANGE = timedelta(days=90)
# Rows per side handed to Evidently unless ``sample`` says otherwise. Rendering time grows
# with rows and features: for 20 features here ~1.7 s at 5,000 rows per side, ~9 s at
# 20,000 (docs/reports.md); the cap bounds what one request may cost.
DEFAULT_SAMPLE = 5_000
MAX_SAMPLE = 20_000
# Recent windows and resolved alerts a card lists by default, and at most.
DEFAULT_CARD_WINDOWS = 5
MAX_CARD_WINDOWS = 100
RESOLVED_ALERTS = 20
RETRAIN_REQUESTS = 20
# The families a card lists per window (drift has its own report).
CARD_FAMILIES = ("performance", "estimated_performance", "fairness")


# ---------------------------------------------------------------- drift report


@dataclass(frozen=True, slots=True)
class DriftRequest:
    """The validated query parameters of a drift report."""

    start: datetime
    end: datetime
    version: str | None
    sample: int
    seed: int


@dataclass(frozen=True, slots=True)
class Side:
    """The rows of one side (current or reference) handed to Evidently: a sample of ``total``."""

    label: str  # what the rows are, e.g. "uploaded reference 3 (2,000 rows)"
    total: int
    rows: list[dict[str, Any]]  # the features of each sampled row

    @property
    def sampled(self) -> bool:
        return len(self.rows) < self.total


@dataclass(frozen=True, slots=True)
class DriftData:
    """Everything a report is rendered from, read before rendering starts."""

    model: str
    version: str
    start: datetime
    end: datetime
    seed: int
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    current: Side
    reference: Side


# ---------------------------------------------------------------- model card


class CardFormat(StrEnum):
    JSON = "json"
    MARKDOWN = "markdown"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VersionLine(_Frozen):
    version: str
    created_at: datetime
    spec_hash: str = Field(description="sha256 of the task and schema (features, attributes, labels).")


class CardVersion(_Frozen):
    """The version described: its schema and the provenance it was registered with."""

    version: str
    task: Task
    features: list[FeatureSpec]
    protected_attributes: list[str]
    positive_label: str | None
    classes: list[str] | None
    metadata: dict[str, Any] = Field(
        description="Lineage as registered (e.g. training run id, training data hash, owner)."
    )
    spec_hash: str
    created_at: datetime


class UploadedReference(_Frozen):
    id: int
    rows: int
    content_hash: str = Field(description="sha256 of the uploaded rows (what a re-upload is compared with).")
    created_at: datetime
    replaced_at: datetime | None


class CardReference(_Frozen):
    """What the version's windows are compared with.

    ``kind`` is the monitor's reference kind; ``source`` is where the active bins and
    reference profile were fitted (reference, range or bootstrap; null before any were).
    Uploaded rows carry no timestamps: ``start`` / ``end`` are given for a range reference only.
    """

    kind: str
    source: str | None
    active: UploadedReference | None
    start: datetime | None
    end: datetime | None
    profile_rows: int | None = Field(description="Rows the reference profile was built from.")
    layout_hash: str | None
    reference_hash: str | None = Field(description="What every evaluation cites as its reference.")
    replaced: list[UploadedReference] = Field(description="Earlier uploads, newest first (rows deleted).")


class CardMonitor(_Frozen):
    configured: bool = Field(description="False while the model runs on the defaults.")
    updated_at: datetime | None
    config: MonitorConfig


class CardStatus(_Frozen):
    """``state``: alerting (an alert fires), pending (an alert waits for its streak), ok, or
    not_evaluated (no window of the version evaluated yet)."""

    state: str
    firing_alerts: int
    pending_alerts: int
    last_window_end: datetime | None
    pending_windows: int
    lag_seconds: float | None


class CardFigure(_Frozen):
    family: str
    metric: str
    attribute: str | None
    # A multiclass model's fairness figures are per class, one-vs-rest: the class.
    feature: str | None = None
    group: str | None
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    threshold: float | None
    status: str


class CardWindow(_Frozen):
    """One evaluated window (its latest revision) with its performance and fairness figures."""

    window_start: datetime
    window_end: datetime
    revision: int
    rows: int
    labelled: int
    label_coverage: float | None
    computed_at: datetime
    reference_hash: str
    figures: list[CardFigure]


class CardAlerts(_Frozen):
    open: list[AlertView] = Field(description="Pending and firing alerts, oldest first.")
    resolved: list[AlertView] = Field(description=f"The {RESOLVED_ALERTS} newest resolved alerts.")


class RetrainReason(_Frozen):
    alert_id: int | None
    family: str | None
    metric: str | None
    feature: str | None
    attribute: str | None
    group: str | None
    value: float | None
    threshold: float | None


class CardRetrainRequest(_Frozen):
    id: int
    idempotency_key: str
    window_start: datetime
    window_end: datetime
    created_at: datetime
    reasons: list[RetrainReason]


CARD_EXAMPLE: dict[str, Any] = {
    "model": "credit-scoring",
    "generated_at": "2026-11-22T12:00:00Z",
    "version": {
        "version": "2026-11-01",
        "task": "binary_classification",
        "features": [{"name": "income", "type": "numeric"}, {"name": "purpose", "type": "categorical"}],
        "protected_attributes": ["sex", "age_band"],
        "positive_label": "1",
        "classes": ["0", "1"],
        "metadata": {"mlflow_run_id": "8f2c1e", "owner": "risk-ml"},
        "spec_hash": "9b1d…",
        "created_at": "2026-11-01T09:00:00Z",
    },
    "versions": [{"version": "2026-11-01", "created_at": "2026-11-01T09:00:00Z", "spec_hash": "9b1d…"}],
    "reference": {
        "kind": "uploaded",
        "source": "reference",
        "active": {
            "id": 3,
            "rows": 20000,
            "content_hash": "c0ffee…",
            "created_at": "2026-11-01T09:05:00Z",
            "replaced_at": None,
        },
        "start": None,
        "end": None,
        "profile_rows": 20000,
        "layout_hash": "9b544fa3…",
        "reference_hash": "3a6c2830…",
        "replaced": [],
    },
    "monitor": {
        "configured": True,
        "updated_at": "2026-11-01T09:10:00Z",
        "config": {"window": "1d", "step": "1h"},
    },
    "status": {
        "state": "alerting",
        "firing_alerts": 1,
        "pending_alerts": 0,
        "last_window_end": "2026-11-22T12:00:00Z",
        "pending_windows": 0,
        "lag_seconds": 0.0,
    },
    "windows": [
        {
            "window_start": "2026-11-21T12:00:00Z",
            "window_end": "2026-11-22T12:00:00Z",
            "revision": 2,
            "rows": 2880,
            "labelled": 2304,
            "label_coverage": 0.8,
            "computed_at": "2026-11-22T12:00:04Z",
            "reference_hash": "3a6c2830…",
            "figures": [
                {
                    "family": "fairness",
                    "metric": "selection_rate",
                    "attribute": "sex",
                    "group": "F",
                    "value": 0.31,
                    "ci_low": 0.29,
                    "ci_high": 0.33,
                    "n": 1440,
                    "threshold": None,
                    "status": "ok",
                }
            ],
        }
    ],
    "alerts": {"open": [], "resolved": []},
    "retrain_requests": [],
}


class ModelCard(_Frozen):
    """A model version's card: what it is, what it is compared with, how it is monitored,
    how it has done recently, and what was raised about it. Every figure is a stored one."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [CARD_EXAMPLE]})

    model: str
    generated_at: datetime = Field(description="When the card was built (the server's clock).")
    version: CardVersion
    versions: list[VersionLine] = Field(description="Every version of the model, in registration order.")
    reference: CardReference
    monitor: CardMonitor
    status: CardStatus
    windows: list[CardWindow] = Field(description="The most recent evaluated windows, newest first.")
    alerts: CardAlerts
    retrain_requests: list[CardRetrainRequest] = Field(
        description=f"The {RETRAIN_REQUESTS} newest retraining requests of the version, newest first."
    )
