"""Requests that make a live modelmon count something in every service-health series:
stored, duplicate and refused batches, joined outcomes (label delay), an unmatched route."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.auth import AUTH_HEADERS


def _prediction(key: str, i: int, at: datetime) -> dict[str, Any]:
    return {
        "id": key,
        "timestamp": at.isoformat(),
        "features": {
            "income": 40.0 + i,
            "debt": 20.0 + i % 5,
            "age": 30.0 + i % 20,
            "purpose": ["car", "home"][i % 2],
            "housing": ["rent", "own"][i % 2],
        },
        "score": (i % 10) / 10,
        "prediction": int(i % 10 >= 5),
        "attributes": {"sex": "F" if i % 2 else "M", "age_band": "18-34"},
    }


def send(base: str, prefix: str, count: int = 50) -> dict[str, int]:
    """Traffic for model ``credit``; returns the records it sent by kind of result."""
    at = datetime.now(UTC) - timedelta(hours=1)
    batch = [_prediction(f"{prefix}-{i}", i, at) for i in range(count)]
    with httpx.Client(base_url=base, timeout=30, headers=AUTH_HEADERS) as http:
        assert http.post("/v1/models/credit/predictions", json={"predictions": batch}).status_code == 200
        assert http.post("/v1/models/credit/predictions", json={"predictions": batch[:10]}).status_code == 200
        invalid = [_prediction(f"{prefix}-bad-{i}", i, at) | {"score": 7} for i in range(5)]
        assert http.post("/v1/models/credit/predictions", json={"predictions": invalid}).status_code == 422
        changed = [batch[0] | {"score": 0.99}]
        assert http.post("/v1/models/credit/predictions", json={"predictions": changed}).status_code == 409
        labels = [
            {"prediction_id": p["id"], "label": i % 2, "timestamp": datetime.now(UTC).isoformat()}
            for i, p in enumerate(batch[:20])
        ]
        assert http.post("/v1/models/credit/outcomes", json={"outcomes": labels}).status_code == 200
        assert http.get("/no/such/route").status_code == 404
        assert http.get("/v1/models/credit").status_code == 200
    return {"accepted": count, "duplicate": 10, "invalid": 5, "conflict": 1, "outcomes": 20}
