"""The stored-state gauges and the service instruments, in process, on SQLite and Postgres."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from service.clock import frozen_clock
from service.export.collector import CachedExport
from service.export.families import Budget
from service.storage.alerting_tables import Alert, Incident
from service.storage.database import create_session_factory, unit_of_work
from tests import factories
from tests.asgi_client import AppClient
from tests.conftest import NOW

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _samples(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): float(s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _scrape(client: AppClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    return _samples(response.text)


def test_a_model_without_data_exports_zeros_not_missing_series(client: AppClient) -> None:
    assert client.post("/v1/models", json=factories.registration()).status_code == 201
    samples = _scrape(client)
    for severity in ("warning", "critical"):
        assert samples[("modelmon_alerts_firing", (("model", "credit"), ("severity", severity)))] == 0
    assert samples[("modelmon_models", ())] == 1
    assert samples[("modelmon_incidents_open", (("model", "credit"),))] == 0
    assert samples[("modelmon_model_evaluation_lag_seconds", (("model", "credit"),))] == 0
    for job in ("aggregation", "evaluation"):
        assert samples[("modelmon_job_lag_seconds", (("job", job),))] == 0
    for state in ("pending", "dead"):
        assert samples[("modelmon_webhook_queue_deliveries", (("state", state),))] == 0
    assert not [name for name, _ in samples if name.startswith("modelmon_feature_")]


def test_each_models_newest_prediction_time_is_exported(client: AppClient) -> None:
    for name in ("credit", "fraud", "idle"):
        assert client.post("/v1/models", json=factories.registration(name)).status_code == 201
    for name, count in (("credit", 30), ("fraud", 5)):
        batch = factories.predictions(0, count)
        assert client.post(f"/v1/models/{name}/predictions", json=batch).status_code == 200
    samples = _scrape(client)
    newest = {
        name: samples.get(("modelmon_model_last_event_timestamp_seconds", (("model", name),)))
        for name in ("credit", "fraud", "idle")
    }
    assert newest == {
        "credit": (factories.START + timedelta(minutes=29)).timestamp(),
        "fraud": (factories.START + timedelta(minutes=4)).timestamp(),
        "idle": None,  # no prediction: the series is absent, not 0
    }


def _alert(model_id: int, state: str, severity: str, silenced_by: int | None = None) -> Alert:
    return Alert(
        fingerprint=f"{state}-{severity}-{silenced_by}", model_id=model_id, version_id=None, rule="drift",
        family="drift", metric="drift_score", feature="income", attribute="", group="", state=state,
        severity=severity, direction="high", value=0.3, threshold=0.1, resolve_threshold=0.08,
        summary="drift", started_at=NOW, updated_at=NOW, silenced_by=silenced_by,
    )  # fmt: skip


def test_firing_alerts_are_counted_by_severity(app: FastAPI, client: AppClient) -> None:
    assert client.post("/v1/models", json=factories.registration()).status_code == 201
    with unit_of_work(app.state.context.sessions) as session:
        session.add_all(
            [
                _alert(1, "firing", "critical"),
                _alert(1, "firing", "critical", silenced_by=7),  # silenced still fires
                _alert(1, "pending", "critical"),
                _alert(1, "resolved", "warning"),
            ]
        )
    samples = _scrape(client)
    assert samples[("modelmon_alerts_firing", (("model", "credit"), ("severity", "critical")))] == 2
    assert samples[("modelmon_alerts_firing", (("model", "credit"), ("severity", "warning")))] == 0


def test_open_incidents_are_counted_per_model(app: FastAPI, client: AppClient) -> None:
    assert client.post("/v1/models", json=factories.registration()).status_code == 201
    with unit_of_work(app.state.context.sessions) as session:
        window = {"window_start": NOW, "window_end": NOW, "opened_at": NOW, "updated_at": NOW}
        common = {"model_id": 1, "kind": "input", "severity": "warning", "title": "", "causes": []}
        common |= {"notified": True, "notes": [], **window}
        session.add_all(
            [
                Incident(cause="input:income", state="open", **common),
                Incident(cause="input:debt", state="open", **common),
                Incident(cause="input:income", state="resolved", resolved_at=NOW, **common),
            ]
        )
    assert _scrape(client)[("modelmon_incidents_open", (("model", "credit"),))] == 2


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_snapshot_is_read_at_most_once_per_interval(app: FastAPI, client: AppClient) -> None:
    ticks = Ticks()
    context = app.state.context
    export = CachedExport(
        context.sessions, context.clock, budget=Budget(10, 10), cache_seconds=15, monotonic=ticks
    )
    before = export.text()
    assert client.post("/v1/models", json=factories.registration()).status_code == 201
    ticks.now = 14.9
    assert export.text() == before
    ticks.now = 15.0
    assert export.text() == before  # served stale while a background thread reads
    export.wait_idle()
    assert _samples(export.text().decode())[("modelmon_models", ())] == 1


def test_a_database_that_fails_keeps_the_previous_snapshot(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'modelmon.db'}")
    export = CachedExport(
        create_session_factory(engine), frozen_clock(NOW), budget=Budget(10, 10), cache_seconds=0
    )
    failures = REGISTRY.get_sample_value("modelmon_metrics_snapshot_failures_total") or 0.0
    assert export.text() == b""
    assert REGISTRY.get_sample_value("modelmon_metrics_snapshot_failures_total") == failures + 1
    engine.dispose()


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_ingestion_counts_records_by_model_result_and_reason(client: AppClient) -> None:
    assert client.post("/v1/models", json=factories.registration()).status_code == 201
    names = ("accepted", "duplicate")
    before = {
        r: _value("modelmon_ingested_records_total", model="credit", kind="prediction", result=r)
        for r in names
    }
    refused = {
        r: _value("modelmon_rejected_records_total", model="credit", kind="prediction", reason=r)
        for r in ("invalid", "conflict")
    }
    delays = _value("modelmon_label_delay_seconds_count", model="credit")
    within_6h = _value("modelmon_label_delay_seconds_bucket", model="credit", le="21600.0")
    at = (NOW - timedelta(hours=2)).isoformat()
    batch = [factories.prediction(i, timestamp=at) for i in range(10)]
    assert client.post("/v1/models/credit/predictions", json={"predictions": batch}).status_code == 200
    assert client.post("/v1/models/credit/predictions", json={"predictions": batch[:4]}).status_code == 200
    bad = [factories.prediction(100 + i, timestamp=at, score=7) for i in range(3)]
    assert client.post("/v1/models/credit/predictions", json={"predictions": bad}).status_code == 422
    clash = [batch[0] | {"score": 0.42}, batch[1]]
    assert client.post("/v1/models/credit/predictions", json={"predictions": clash}).status_code == 409
    outcomes = [factories.outcome(i, timestamp=NOW.isoformat()) for i in range(6)]
    assert client.post("/v1/models/credit/outcomes", json={"outcomes": outcomes}).status_code == 200
    kind = {"model": "credit", "kind": "prediction"}
    assert _value("modelmon_ingested_records_total", **kind, result="accepted") - before["accepted"] == 10
    assert _value("modelmon_ingested_records_total", **kind, result="duplicate") - before["duplicate"] == 4
    assert _value("modelmon_rejected_records_total", **kind, reason="invalid") - refused["invalid"] == 3
    assert _value("modelmon_rejected_records_total", **kind, reason="conflict") - refused["conflict"] == 2
    assert _value("modelmon_label_delay_seconds_count", model="credit") - delays == 6
    # Each outcome arrived 2 h after its prediction's event time: under the 6 h bucket.
    assert _value("modelmon_label_delay_seconds_bucket", model="credit", le="21600.0") - within_6h == 6


def test_http_requests_are_labelled_by_route_template_never_the_raw_path(client: AppClient) -> None:
    route = {"method": "GET", "route": "/v1/models/{name}", "status": "404"}
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    before = (
        _value("modelmon_http_requests_total", **route),
        _value("modelmon_http_requests_total", **unmatched),
    )
    assert client.get("/v1/models/nobody-here").status_code == 404
    assert client.get("/wp-login.php").status_code == 404
    assert _value("modelmon_http_requests_total", **route) - before[0] == 1
    assert _value("modelmon_http_requests_total", **unmatched) - before[1] == 1
    text = client.get("/metrics").text
    assert "nobody-here" not in text and "wp-login" not in text
