"""How a failed unit of work is shown (the monitor's status, /ui)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class FailureView(BaseModel):
    """A unit of work of the model that keeps failing; the others go on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    job: str = Field(description="aggregation, evaluation or alerting.")
    unit: str = Field(
        description="Empty for the model's whole aggregation or alerting; the window otherwise."
    )
    error: str = Field(description="What the last attempt raised (type: message).")
    attempts: int = Field(description="Consecutive failed attempts.")
    first_failed_at: datetime
    last_failed_at: datetime
    retry_at: datetime = Field(description="Next attempt: 1 min after the first failure, doubling to 1 h.")
