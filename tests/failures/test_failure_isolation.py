"""One model's poison never stops the others: its failing unit (aggregation, a window's
evaluation, alerting) is rolled back alone, recorded with its error, retried with backoff,
counted, shown in the monitor's status and /ui, and recovers without SQL by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import Engine, create_engine, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.privacy.jobs import RetentionJob
from service.runner import Pipeline
from service.storage.engine_tables import BucketProfile, Layout, Monitor
from service.storage.event_tables import Prediction
from service.storage.partitions import create_partitions
from service.storage.registry_tables import ModelVersion
from tests.asgi_client import AppClient
from tests.conftest import NOW
from tests.factories import prediction, reference_row, registration
from tests.windows.scenario import MutableClock

PREDICTIONS_OF_CREDIT = "/v1/models/credit/predictions"
POISON_TIME = "0001-01-01 05:00:00"  # what the client got stored before 422s existed


@pytest.fixture
def engine(database_url: str) -> Any:
    made = create_engine(database_url)
    yield made
    made.dispose()


def _model(client: AppClient, name: str, *, missing: bool) -> None:
    """A model with a reference and 120 predictions over the 2 h before NOW; ``missing``: every
    one lacks ``num_00`` (a data-quality alert on the first window)."""
    assert client.post("/v1/models", json=registration(name=name)).status_code == 201
    rows = {"rows": [reference_row(i) for i in range(200)]}
    assert client.post(f"/v1/models/{name}/reference", json=rows).status_code == 200
    records = []
    for i in range(120):
        record = prediction(i, prefix=name, timestamp=(NOW - timedelta(minutes=121 - i)).isoformat())
        if missing:
            record["features"]["num_00"] = None
        records.append(record)
    response = client.post(f"/v1/models/{name}/predictions", json={"predictions": records})
    assert response.status_code == 200, response.text


def _poison(engine: Engine, model: str, subject: str) -> None:
    """A copy of one of the model's predictions dated in year 1, written past the API."""
    columns = [
        c.name for c in Prediction.__table__.columns if c.name not in ("id", "prediction_id", "event_time")
    ]
    copied = ", ".join(columns).replace("subject_id", ":subject")
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":  # year 1 needs a partition of its own
            at = datetime.fromisoformat(POISON_TIME).replace(tzinfo=UTC)
            create_partitions(connection, "predictions", at, at, 1)
        connection.execute(
            text(
                f"INSERT INTO predictions (prediction_id, event_time, {', '.join(columns)}) "
                f"SELECT 'poison', :at, {copied} FROM predictions p "
                "WHERE p.model_id = (SELECT id FROM models WHERE name = :model) ORDER BY p.id LIMIT 1"
            ),
            {"at": POISON_TIME, "model": model, "subject": subject},
        )


def _scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar()


def _runs(engine: Engine, model: str) -> int:
    sql = "SELECT count(*) FROM window_runs WHERE model_id = (SELECT id FROM models WHERE name = :m)"
    return int(_scalar(engine, sql, m=model))


def _profiles(engine: Engine, model: str) -> int:
    sql = (
        "SELECT count(*) FROM bucket_profiles b JOIN layouts l ON l.id = b.layout_id "
        "JOIN model_versions v ON v.id = l.version_id "
        "WHERE v.model_id = (SELECT id FROM models WHERE name = :m)"
    )
    return int(_scalar(engine, sql, m=model))


def _counted(job: str, model: str) -> float:
    return REGISTRY.get_sample_value("modelmon_job_failures_total", {"job": job, "model": model}) or 0.0


def _jobs(app: FastAPI, settings: Settings, at: datetime) -> tuple[Pipeline, MutableClock]:
    sessions: sessionmaker[Session] = app.state.context.sessions
    clock = MutableClock(at)
    return Pipeline(sessions, settings, clock), clock


def _failures(client: AppClient, model: str) -> list[dict[str, Any]]:
    monitor = client.get(f"/v1/models/{model}/monitor")
    assert monitor.status_code == 200, monitor.text
    found: list[dict[str, Any]] = monitor.json()["status"]["failures"]
    return found


@pytest.mark.slow
def test_a_poisoned_model_fails_alone_is_retried_with_backoff_and_recovers(
    app: FastAPI, client: AppClient, settings: Settings, engine: Engine
) -> None:
    _model(client, "credit", missing=False)
    _model(client, "healthy", missing=True)
    _poison(engine, "credit", subject="mallory")
    counted = _counted("aggregation", "credit")
    jobs, clock = _jobs(app, settings, NOW)
    jobs.run_round()

    [failure] = _failures(client, "credit")
    assert failure["job"] == "aggregation" and failure["unit"] == "" and failure["attempts"] == 1
    assert "OutsideGrid" in failure["error"] and "window grid" in failure["error"]
    assert failure["retry_at"].startswith("2026-11-22T12:01:00")  # 1 min after the first failure
    assert _counted("aggregation", "credit") == counted + 1
    assert _profiles(engine, "credit") == 0 and _runs(engine, "credit") == 0
    # The other model is folded, evaluated and alerted on in the same round.
    assert _profiles(engine, "healthy") > 0 and _runs(engine, "healthy") > 0
    alerts = client.get("/v1/alerts", params={"model": "healthy"}).json()["items"]
    assert any(a["family"] == "data_quality" and a["state"] == "firing" for a in alerts), alerts
    assert _failures(client, "healthy") == []
    page = client.get("/ui")
    assert page.status_code == 200 and 'data-failure-job="aggregation"' in page.text

    clock.at = NOW + timedelta(seconds=30)  # held: passed over, not retried before 12:01
    jobs.run_round()
    assert _failures(client, "credit")[0]["attempts"] == 1
    clock.at = NOW + timedelta(minutes=2)  # due: the rebuild meets the poison again
    jobs.run_round()
    [failure] = _failures(client, "credit")
    assert failure["attempts"] == 2 and failure["retry_at"].startswith("2026-11-22T12:04:00")  # +2 min
    assert _counted("aggregation", "credit") == counted + 2

    # Recovery through the API: erase the poisoned subject, ask for the retry now.
    assert client.delete("/v1/subjects/mallory").json()["predictions_erased"] == 1
    retried = client.post("/v1/models/credit/monitor/retry")
    assert retried.status_code == 200 and retried.json()["status"]["failures"][0]["retry_at"].startswith(
        "2026-11-22T12:00:00"
    )
    clock.at = NOW + timedelta(minutes=3)
    jobs.run_round()
    assert _failures(client, "credit") == []
    assert _profiles(engine, "credit") > 0 and _runs(engine, "credit") > 0
    assert _scalar(engine, "SELECT count(*) FROM job_failures") == 0


def test_retention_deletes_by_time_while_a_model_cannot_be_aggregated(
    app: FastAPI, client: AppClient, settings: Settings, engine: Engine
) -> None:
    _model(client, "credit", missing=False)
    _poison(engine, "credit", subject="mallory")
    jobs, _ = _jobs(app, settings, NOW)
    jobs.run_round()
    assert _failures(client, "credit")[0]["job"] == "aggregation"
    sessions: sessionmaker[Session] = app.state.context.sessions
    later = NOW + timedelta(days=91)  # every event is past the 90 days of retention
    assert RetentionJob(sessions, MutableClock(later), 90).run(later) == (121, 0)
    assert _scalar(engine, "SELECT count(*) FROM predictions") == 0


def _model_id(engine: Engine, model: str) -> int:
    return int(_scalar(engine, "SELECT id FROM models WHERE name = :m", m=model))


@pytest.mark.slow
def test_a_window_whose_evaluation_raises_waits_for_its_retry_while_others_are_evaluated(
    app: FastAPI, client: AppClient, settings: Settings, engine: Engine
) -> None:
    _model(client, "credit", missing=False)
    _model(client, "healthy", missing=True)
    jobs, clock = _jobs(app, settings, NOW - timedelta(hours=3))
    jobs.catch_up()  # folded, before any window with data has ended
    sessions: sessionmaker[Session] = app.state.context.sessions
    with sessions.begin() as session:  # a stored profile that no longer decodes
        session.execute(
            update(BucketProfile)
            .where(BucketProfile.layout_id.in_(select(Layout.id).join(ModelVersion).where(
                ModelVersion.model_id == _model_id(engine, "credit"))))
            .values(body=b"\x00")
        )  # fmt: skip
    counted = _counted("evaluation", "credit")
    clock.at = NOW
    summary = jobs.run_round()
    failures = _failures(client, "credit")
    assert failures and {f["job"] for f in failures} == {"evaluation"}
    assert all(f["unit"].startswith("version ") and " window " in f["unit"] for f in failures)
    assert _counted("evaluation", "credit") == counted + len(failures)
    waiting = "SELECT count(*) FROM window_tasks WHERE model_id = :m AND retry_at IS NOT NULL"
    assert _scalar(engine, waiting, m=_model_id(engine, "credit")) == len(failures)
    assert _runs(engine, "credit") == 0 and _runs(engine, "healthy") > 0
    assert summary.windows == len(failures) + _runs(engine, "healthy")  # each claimed once, then waits
    assert jobs.evaluate_once() == 0  # nothing due again before 12:01


@pytest.mark.slow
def test_a_model_whose_alerting_raises_keeps_its_runs_queued_while_others_alert(
    app: FastAPI, client: AppClient, settings: Settings, engine: Engine
) -> None:
    _model(client, "credit", missing=True)
    _model(client, "healthy", missing=True)
    jobs, _ = _jobs(app, settings, NOW)
    jobs.catch_up()
    while jobs.evaluate_once():
        pass
    # A configuration stored before a stricter check (a range reference in year 1) no longer loads.
    poisoned = {
        "reference": {"kind": "range", "start": "0001-01-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"}
    }
    sessions: sessionmaker[Session] = app.state.context.sessions
    with sessions.begin() as session:
        session.add(Monitor(model_id=_model_id(engine, "credit"), config=poisoned, updated_at=NOW))
    counted = _counted("alerting", "credit")
    jobs.alerting.drain()
    with engine.connect() as connection:  # (the monitor's own view cannot load that configuration)
        [(job, attempts, error)] = connection.execute(text("SELECT job, attempts, error FROM job_failures"))
    assert (job, attempts) == ("alerting", 1) and "window grid" in error
    assert _counted("alerting", "credit") == counted + 1
    queued = "SELECT count(*) FROM alert_queue WHERE model_id = :m"
    assert _scalar(engine, queued, m=_model_id(engine, "credit")) > 0
    assert _scalar(engine, queued, m=_model_id(engine, "healthy")) == 0
    firing = client.get("/v1/alerts", params={"model": "healthy"}).json()["items"]
    assert any(a["state"] == "firing" for a in firing)
    assert client.get("/v1/alerts", params={"model": "credit"}).json()["items"] == []
    shown = client.get("/v1/models/credit/monitor")  # a clear 409, not a 500
    assert shown.status_code == 409 and shown.json()["errors"][0]["field"] == "config"
    assert "window grid" in shown.json()["errors"][0]["message"]
    late = {"predictions": [prediction(999, prefix="credit")]}
    assert client.post(PREDICTIONS_OF_CREDIT, json=late).status_code == 200  # ingestion goes on
    fixed = client.put("/v1/models/credit/monitor", json={})
    assert fixed.status_code == 200 and fixed.json()["status"]["failures"][0]["job"] == "alerting"
