"""The cheap checks on the caller's thread: what is encoded, what is refused, and that refusing
never raises into the model's code unless asked to (``strict=True``)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from service.client import InvalidRecord, Monitor, records
from service.client.queue import Kind
from tests.client.live import free_port

WHEN = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
REPOSITORY = Path(__file__).resolve().parents[2]


def _decoded(encoded: bytes) -> Any:
    return json.loads(encoded)


def test_a_prediction_is_encoded_as_the_api_takes_it() -> None:
    pid, encoded = records.prediction(
        features={"income": np.float64(52e3), "age": np.int64(41), "employment": "salaried", "debt": np.nan},
        prediction=np.int64(1), score=np.float32(0.5), attributes={"sex": "F", "age_band": None},
        subject_id="customer-17", timestamp=WHEN, version="2026-11-01", attributions={"income": 0.3},
    )  # fmt: skip
    assert uuid.UUID(str(pid)).version == 4
    assert _decoded(encoded) == {
        "id": pid, "timestamp": "2026-11-22T10:00:00+00:00", "version": "2026-11-01",
        "features": {"income": 52000.0, "age": 41, "employment": "salaried", "debt": None},
        "prediction": 1, "score": 0.5, "attributes": {"sex": "F", "age_band": None},
        "attributions": {"income": 0.3}, "subject_id": "customer-17",
    }  # fmt: skip


def test_an_outcome_carries_a_label_or_a_value() -> None:
    assert _decoded(records.outcome(prediction_id="req-1", label=0, timestamp=WHEN)) == {
        "prediction_id": "req-1", "label": 0, "timestamp": "2026-11-22T10:00:00+00:00",
    }  # fmt: skip
    later = datetime(2026, 11, 22, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert _decoded(records.outcome(prediction_id=7, value=12.5, timestamp=later))["timestamp"] == (
        "2026-11-22T12:00:00+02:00"
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"features": {"x": 1.0}, "prediction": 1, "timestamp": datetime(2026, 11, 22)}, "naive"),
        ({"features": {"x": 1.0}, "prediction": 1, "score": 1.5}, "outside [0, 1]"),
        ({"features": {"x": 1.0}, "prediction": 1, "score": float("nan")}, "score"),
        ({"features": {"x": float("inf")}, "prediction": 1}, "features.x: infinite"),
        ({"features": {"x": object()}, "prediction": 1}, "features.x: object"),
        ({"features": [1.0], "prediction": 1}, "features: expected a mapping"),
        ({"features": {"x": 1.0}, "prediction": None}, "prediction: required"),
        ({"features": {"x": 1.0}, "prediction": 1, "id": ""}, "id:"),
        ({"features": {"x": 1.0}, "prediction": 1, "id": "x" * 201}, "id:"),
        ({"features": {"x": 1.0}, "prediction": 1, "subject_id": 1.5}, "subject_id:"),
        ({"features": {"x": "\ud800"}, "prediction": 1}, "cannot be encoded"),
    ],
)
def test_bad_predictions_are_refused_naming_the_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRecord, match=message.replace("[", r"\[")):
        records.prediction(**fields)


def test_an_outcome_needs_exactly_one_truth() -> None:
    with pytest.raises(InvalidRecord, match="exactly one"):
        records.outcome(prediction_id="p", label=1, value=1.0)
    with pytest.raises(InvalidRecord, match="exactly one"):
        records.outcome(prediction_id="p")


@pytest.fixture
def monitor() -> Iterator[Monitor]:
    """A monitor whose server is down; these tests never need an answer."""
    offline = Monitor(f"http://127.0.0.1:{free_port()}", "k" * 40, model="credit", flush_interval=60)
    yield offline
    offline.close(timeout=0)


def test_invalid_records_are_counted_and_never_raised(
    monitor: Monitor, caplog: pytest.LogCaptureFixture
) -> None:
    assert monitor.log_prediction({"x": 1.0}, 1, id="mine", score=2.0) == "mine"
    generated = monitor.log_prediction({"x": 1.0}, None)
    assert uuid.UUID(str(generated)).version == 4
    monitor.log_predictions([{"features": {"x": 1.0}, "prediction": 1, "colour": "red"}, {"prediction": 1}])
    monitor.log_outcome("mine")  # neither label nor value
    monitor.log_outcomes([{"prediction_id": "mine", "label": 1, "extra": 1}])
    counters = monitor.counters
    assert (counters.invalid, counters.queued) == (6, 0)
    warnings = [r.getMessage() for r in caplog.records if r.name == "modelmon.client"]
    assert len(warnings) == 1 and "score: 2.0 is outside [0, 1]" in warnings[0]  # later ones are throttled


def test_strict_mode_raises_for_tests_and_development() -> None:
    strict = Monitor(f"http://127.0.0.1:{free_port()}", None, model="credit", strict=True)
    try:
        with pytest.raises(InvalidRecord, match="naive"):
            strict.log_prediction({"x": 1.0}, 1, timestamp=datetime(2026, 11, 22))
        with pytest.raises(InvalidRecord, match="unknown field"):
            strict.log_predictions([{"features": {}, "prediction": 1, "colour": "red"}])
    finally:
        strict.close(timeout=0)


def test_the_caller_may_change_its_dict_after_logging(monitor: Monitor) -> None:
    features = {"x": 1.0}
    monitor.log_prediction(features, 1, id="a", timestamp=WHEN)
    features["x"] = 2.0
    taken = monitor._queue.take(Kind.PREDICTIONS, partial=True)
    assert _decoded(taken[0])["features"] == {"x": 1.0}


def test_bad_options_fail_at_construction() -> None:
    for options in ({"batch_size": 0}, {"batch_size": 20_000}, {"flush_interval": 0}, {"max_queue": 10}):
        with pytest.raises(ValueError, match="must"):
            Monitor("http://127.0.0.1:1", None, model="m", **options)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="url"):
        Monitor("modelmon:8000", None, model="m")


def test_the_api_key_is_not_in_the_repr() -> None:
    key = "mmk_" + "s3cr3t" * 8
    offline = Monitor("http://127.0.0.1:1", key, model="credit")
    try:
        assert key not in repr(offline) and key not in repr(offline._endpoint)
    finally:
        offline.close(timeout=0)


HEAVY = ("fastapi", "sqlalchemy", "pydantic", "numpy", "pandas", "scipy", "evidently", "prometheus_client")


@pytest.mark.slow
def test_the_client_imports_none_of_the_servers_dependencies() -> None:
    probe = (
        "import json, sys, service.client; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPOSITORY, capture_output=True, text=True, check=True
    ).stdout
    modules = set(json.loads(loaded))
    assert "httpx" in modules and "service" in modules
    assert not modules & set(HEAVY)
