"""Erasure bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ErasureView(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "subject": "sub_5d41402abc4b2a76b9719d911017c592",
                    "predictions_erased": 3,
                    "outcomes_erased": 2,
                    "erased_at": "2026-11-22T12:00:00Z",
                }
            ]
        }
    )

    subject: str = Field(description="The subject's pseudonym (the raw id is never stored).")
    predictions_erased: int
    outcomes_erased: int
    erased_at: datetime
