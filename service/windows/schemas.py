"""Bodies of the evaluations, evaluate and backtest endpoints."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.kernel.states import FigureStatus
from service.monitors.schemas import MonitorConfig
from service.ranges import AwareGridMoment
from service.registry.schemas import VersionName

MAX_BACKTEST_WINDOWS = 2_000


class Family(StrEnum):
    DRIFT = "drift"
    DATA_QUALITY = "data_quality"
    PERFORMANCE = "performance"
    ESTIMATED_PERFORMANCE = "estimated_performance"
    FAIRNESS = "fairness"
    EXPLANATION = "explanation"


ITEM_EXAMPLE: dict[str, Any] = {
    "window_start": "2026-11-21T10:00:00Z",
    "window_end": "2026-11-22T10:00:00Z",
    "version": "2026-11-01",
    "family": "fairness",
    "metric": "statistical_parity_difference",
    "feature": None,
    "attribute": "sex",
    "group": None,
    "value": 0.14,
    "ci_low": 0.11,
    "ci_high": 0.17,
    "n": 2880,
    "threshold": 0.1,
    "status": "alert",
    "label_coverage": 0.62,
    "revision": 2,
    "computed_at": "2026-11-22T10:00:04Z",
    "reference_hash": "3a6c2830628b9bf16e485644f368400f6c92edc8059490cc201b675038bf21b8",
}


class EvaluationItem(BaseModel):
    """One figure of one window. ``label_coverage`` (labelled share of the window's rows) is
    given for the label-based families; ``reference_hash`` names the reference compared with."""

    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [ITEM_EXAMPLE]})

    window_start: datetime
    window_end: datetime
    version: str
    family: Family
    metric: str
    feature: str | None = None
    attribute: str | None = None
    group: str | None = None
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int
    threshold: float | None = None
    status: FigureStatus
    label_coverage: float | None = None
    revision: int
    computed_at: datetime
    reference_hash: str


class EvaluationPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [ITEM_EXAMPLE], "count": 1, "next_offset": None}]}
    )

    items: list[EvaluationItem]
    count: int = Field(description="Items in this page.")
    next_offset: int | None = Field(description="Pass as `offset` for the next page; null on the last.")


class WindowRequest(BaseModel):
    """A window to evaluate now; both bounds on the model's bucket grid. Empty body: the
    window of the configured length ending at the current bucket boundary."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"window_start": "2026-11-21T00:00:00Z", "window_end": "2026-11-22T00:00:00Z"}]
        },
    )

    window_start: AwareGridMoment | None = None
    window_end: AwareGridMoment | None = None
    version: VersionName | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> WindowRequest:
        if (self.window_start is None) != (self.window_end is None):
            raise ValueError("give both window_start and window_end, or neither")
        if (
            self.window_start is not None
            and self.window_end is not None
            and self.window_start >= self.window_end
        ):
            raise ValueError("window_start must be before window_end")
        return self


class EvaluateResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "window_start": "2026-11-21T10:00:00Z",
                    "window_end": "2026-11-22T10:00:00Z",
                    "version": "2026-11-01",
                    "rows": 2880,
                    "label_coverage": 0.62,
                    "stored": False,
                    "items": [ITEM_EXAMPLE],
                }
            ]
        }
    )

    window_start: datetime
    window_end: datetime
    version: str
    rows: int
    label_coverage: float | None
    stored: bool = Field(description="On-demand results are not stored; scheduled windows are.")
    items: list[EvaluationItem]


class BacktestRequest(BaseModel):
    """Replay a proposed configuration over stored history (windows ending in (start, end])."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "config": {"window": "24h", "step": "1h", "drift": {"numeric_threshold": 0.05}},
                    "start": "2026-11-15T00:00:00Z",
                    "end": "2026-11-22T00:00:00Z",
                }
            ]
        },
    )

    config: MonitorConfig
    start: AwareGridMoment
    end: AwareGridMoment
    version: VersionName | None = None

    @model_validator(mode="after")
    def _ordered(self) -> BacktestRequest:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self


class BacktestWindow(BaseModel):
    window_start: datetime
    window_end: datetime
    rows: int
    label_coverage: float | None
    alerts: list[EvaluationItem] = Field(description="The figures that would have alerted.")


class AlertCount(BaseModel):
    family: Family
    metric: str
    feature: str | None = None
    attribute: str | None = None
    group: str | None = None
    windows: int = Field(description="Windows in which this figure alerted.")


class BacktestAlert(BaseModel):
    """An alert the proposed configuration's alert rules raise on the replayed windows: the same
    rules as live alerting (``fire_after``, hysteresis, one alert per figure while it fires)."""

    family: Family
    metric: str
    feature: str | None = None
    attribute: str | None = None
    group: str | None = None
    severity: str
    direction: str = Field(description="high: above an upper bound; low: below a lower bound.")
    fired_window_end: datetime = Field(description="End of the window whose evaluation made it fire.")
    resolved_window_end: datetime | None = Field(
        description="End of the window whose evaluation resolved it; null if still firing at the end."
    )
    value: float | None
    threshold: float | None


class BacktestResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "version": "2026-11-01",
                    "windows": [
                        {
                            "window_start": "2026-11-21T09:00:00Z",
                            "window_end": "2026-11-22T09:00:00Z",
                            "rows": 2880,
                            "label_coverage": 0.6,
                            "alerts": [ITEM_EXAMPLE],
                        }
                    ],
                    "evaluated": 168,
                    "alerting_windows": 31,
                    "alerts_by_figure": [
                        {"family": "drift", "metric": "drift_score", "feature": "income", "windows": 31}
                    ],
                    "fired": [
                        {
                            "family": "drift",
                            "metric": "drift_score",
                            "feature": "income",
                            "severity": "warning",
                            "direction": "high",
                            "fired_window_end": "2026-11-19T06:00:00Z",
                            "resolved_window_end": None,
                            "value": 0.23,
                            "threshold": 0.1,
                        }
                    ],
                    "notes": [],
                }
            ]
        }
    )

    version: str
    windows: list[BacktestWindow]
    evaluated: int
    alerting_windows: int = Field(description="Windows with at least one figure in status alert.")
    alerts_by_figure: list[AlertCount]
    fired: list[BacktestAlert] = Field(
        default_factory=list,
        description="The alerts the configuration's alerting rules would have raised, in firing order.",
    )
    notes: list[str] = Field(default_factory=list)
