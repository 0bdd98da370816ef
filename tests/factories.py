"""Factories for request bodies: a credit-scoring model and its records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

NUMERIC_FEATURES = [f"num_{i:02d}" for i in range(15)]
CATEGORICAL_FEATURES = [f"cat_{i}" for i in range(5)]
START = datetime(2026, 11, 1, tzinfo=UTC)


def registration(name: str = "credit", version: str = "v1", **overrides: Any) -> dict[str, Any]:
    """A binary credit-scoring model: 15 numeric + 5 categorical features, sex and age band."""
    body: dict[str, Any] = {
        "name": name,
        "version": version,
        "task": "binary_classification",
        "features": [{"name": n, "type": "numeric"} for n in NUMERIC_FEATURES]
        + [{"name": n, "type": "categorical"} for n in CATEGORICAL_FEATURES],
        "protected_attributes": ["sex", "age_band"],
        "positive_label": 1,
        "metadata": {"mlflow_run_id": "run-42", "owner": "risk-ml"},
    }
    body.update(overrides)
    return body


def features(i: int) -> dict[str, Any]:
    values: dict[str, Any] = {n: float((i * 7 + k) % 100) for k, n in enumerate(NUMERIC_FEATURES)}
    values.update({n: f"c{(i + k) % 4}" for k, n in enumerate(CATEGORICAL_FEATURES)})
    return values


def prediction(i: int, *, prefix: str = "p", **overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": f"{prefix}{i}",
        "timestamp": (START + timedelta(minutes=i)).isoformat(),
        "features": features(i),
        "prediction": i % 2,
        "score": (i % 100) / 100,
        "attributes": {"sex": "F" if i % 2 else "M", "age_band": ["18-24", "25-44", "45+"][i % 3]},
    }
    record.update(overrides)
    return record


def predictions(start: int, count: int, **overrides: Any) -> dict[str, Any]:
    return {"predictions": [prediction(i, **overrides) for i in range(start, start + count)]}


def outcome(i: int, *, prefix: str = "p", **overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "prediction_id": f"{prefix}{i}",
        "label": (i // 2) % 2,
        "timestamp": (START + timedelta(days=10, minutes=i)).isoformat(),
    }
    record.update(overrides)
    return record


def reference_row(i: int, **overrides: Any) -> dict[str, Any]:
    row = prediction(i)
    body: dict[str, Any] = {
        "features": row["features"],
        "prediction": row["prediction"],
        "score": row["score"],
        "label": (i // 2) % 2,
        "attributes": row["attributes"],
    }
    body.update(overrides)
    return body
