"""Body of ``GET /v1/models/{name}/slices``: the slices performing worse than the rest."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class SliceMetric(StrEnum):
    ERROR_RATE = "error_rate"
    TPR = "tpr"
    FPR = "fpr"
    MAE = "mae"


class SliceCell(BaseModel):
    """One column of a slice: a protected attribute, a categorical feature or a numeric one."""

    kind: Literal["attribute", "categorical", "numeric"]
    column: str
    value: str = Field(description="The category, group or numeric bin (reference deciles).")


class SliceItem(BaseModel):
    slice: list[SliceCell] = Field(description="One cell, or two crossed (a pair).")
    n: int = Field(description="Rows in the metric's denominator (labelled rows; positives for TPR, …).")
    value: float
    ci_low: float
    ci_high: float
    rest_n: int
    rest_value: float
    gap: float = Field(description="How much worse than the rest, in the metric's units (positive = worse).")
    gap_low: float = Field(description="One-sided lower confidence bound of the gap; the ranking key.")
    p_value: float
    q_value: float = Field(description="Benjamini–Hochberg adjusted p-value over every slice tested.")


SLICES_EXAMPLE: dict[str, Any] = {
    "version": "2026-11-01",
    "window_start": "2026-11-21T00:00:00Z",
    "window_end": "2026-11-22T00:00:00Z",
    "metric": "error_rate",
    "status": "ok",
    "n": 2880,
    "value": 0.21,
    "tested": 412,
    "fdr": 0.05,
    "confidence": 0.95,
    "slices": [
        {
            "slice": [
                {"kind": "attribute", "column": "age_band", "value": "18-25"},
                {"kind": "categorical", "column": "purpose", "value": "debt"},
            ],
            "n": 96,
            "value": 0.41,
            "ci_low": 0.32,
            "ci_high": 0.51,
            "rest_n": 2784,
            "rest_value": 0.2,
            "gap": 0.21,
            "gap_low": 0.13,
            "p_value": 1.2e-6,
            "q_value": 0.0005,
        }
    ],
}


class SlicesResponse(BaseModel):
    """``status``: ``ok``; ``insufficient_data`` (no labelled rows in the range); or
    ``unavailable`` (part of the range was profiled before slice counts were kept)."""

    model_config = ConfigDict(json_schema_extra={"examples": [SLICES_EXAMPLE]})

    version: str
    window_start: datetime
    window_end: datetime
    metric: SliceMetric
    status: Literal["ok", "insufficient_data", "unavailable"]
    n: int
    value: float | None
    tested: int
    fdr: float
    confidence: float
    slices: list[SliceItem]
