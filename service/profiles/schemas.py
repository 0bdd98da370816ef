"""Bodies of ``GET …/layout`` and ``POST …/profiles``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

# 32 MiB of body (the ingestion limit) holds ~900 profiles of the 20-feature credit layout
# (~36 kB each in base64); 1,000 bounds the work of one request whatever the layout.
MAX_PROFILES_PER_REQUEST = 1000


_HASH = "56051c3194fc562dd084a0d2a5d9c7516c45e302b2d689ecb8c318b7ed664c66"


class ActiveLayout(BaseModel):
    """The active layout of a version: what a remote job needs to build the server's profiles."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": "credit-scoring",
                    "version": "2026-11-01",
                    "layout_id": 7,
                    "layout_hash": _HASH,
                    "bucket_seconds": 300,
                    "source": "reference",
                    "created_at": "2026-11-01T00:05:00Z",
                    "layout": {"version": 1, "task": "binary_classification", "numeric": ["…"]},
                    "uploaded_buckets": 8640,
                    "stale_uploaded_buckets": 0,
                }
            ]
        }
    )

    model: str
    version: str
    layout_id: int
    layout_hash: str = Field(description="sha256 of the layout's canonical JSON; profiles cite it")
    bucket_seconds: int = Field(description="bucket length; a profile covers [start, start + bucket)")
    source: str = Field(description="what the bins were fitted on: reference, bootstrap or range")
    created_at: datetime
    layout: dict[str, Any] = Field(description="the layout as JSON (stats ``Layout.to_dict``)")
    uploaded_buckets: int = Field(description="uploaded bucket profiles merged into this layout")
    stale_uploaded_buckets: int = Field(
        description="uploads of this version's earlier layouts: a refit left them out of every "
        "window; their producer must upload again with this layout"
    )


class ProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime = Field(description="bucket start, on the layout's bucket grid (UTC)")
    body: str = Field(
        min_length=1, description="base64 of the zlib-compressed profile JSON (stats serialize)"
    )


class ProfileUpload(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "version": "2026-11-01",
                    "layout_id": 7,
                    "layout_hash": _HASH,
                    "source": "spark-backfill:2026-12",
                    "profiles": [{"start": "2026-12-01T00:05:00Z", "body": "eJzNfU1v…"}],
                }
            ]
        },
    )

    version: str | None = Field(default=None, description="model version (default: the newest)")
    layout_id: int
    layout_hash: str = Field(min_length=64, max_length=64)
    source: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$",
        description="the producer's name for this run, e.g. spark-backfill:2026-12; "
        "one profile per (bucket, source)",
    )
    profiles: list[ProfileIn] = Field(min_length=1, max_length=MAX_PROFILES_PER_REQUEST)


class UploadResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "accepted": 198,
                    "duplicates": 2,
                    "rows": 1184003,
                    "layout_id": 7,
                    "layout_hash": _HASH,
                    "windows_scheduled": 211,
                }
            ]
        }
    )

    accepted: int = Field(description="new bucket profiles merged into the windows")
    duplicates: int = Field(description="bucket profiles this source had sent already, unchanged")
    rows: int = Field(description="predictions in the accepted profiles")
    layout_id: int
    layout_hash: str
    windows_scheduled: int = Field(description="windows queued for (re-)evaluation")
