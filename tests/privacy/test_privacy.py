"""Subject ids are pseudonymised before storage; a subject can be erased; raw events past the
retention period are deleted while bucket profiles stay."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from service.clock import frozen_clock
from service.config import Settings
from service.privacy.jobs import RetentionJob
from service.privacy.pseudonym import DEVELOPMENT_KEY
from service.runner import Pipeline
from service.storage.database import create_database_engine, create_session_factory
from tests import factories
from tests.asgi_client import AppClient
from tests.auth.test_keys import bearer, make_key
from tests.conftest import NOW


def oracle(subject: str, key: str = DEVELOPMENT_KEY) -> str:
    """The pseudonym, computed here independently of service.privacy."""
    return "sub_" + hmac.new(key.encode(), subject.encode(), hashlib.sha256).hexdigest()[:32]


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar()


def send(client: AppClient, start: int, count: int, subject: str, **overrides: Any) -> None:
    batch = {
        "predictions": [
            factories.prediction(i, subject_id=subject, **overrides) for i in range(start, start + count)
        ]
    }
    assert client.post("/v1/models/credit/predictions", json=batch).status_code == 200
    outcomes = {"outcomes": [factories.outcome(i) for i in range(start, start + count)]}
    assert client.post("/v1/models/credit/outcomes", json=outcomes).status_code == 200


@pytest.fixture
def model(client: AppClient) -> AppClient:
    assert client.post("/v1/models", json=factories.registration()).status_code == 201
    rows = {"rows": [factories.reference_row(i) for i in range(200)]}
    assert client.post("/v1/models/credit/reference", json=rows).status_code == 200
    return client


def fold(settings: Settings) -> None:
    database = create_database_engine(settings)
    try:
        Pipeline(create_session_factory(database), settings, frozen_clock(NOW)).catch_up()
    finally:
        database.dispose()


def test_subject_ids_are_stored_only_as_keyed_pseudonyms(model: AppClient, engine: Engine) -> None:
    send(model, 0, 3, "applicant-10482")
    with engine.connect() as connection:
        stored = set(connection.execute(text("SELECT subject_id FROM predictions")).scalars())
    assert stored == {oracle("applicant-10482")}
    assert scalar(engine, "SELECT count(*) FROM predictions WHERE subject_id LIKE '%10482%'") == 0
    # A resend is still a duplicate: the pseudonym is deterministic.
    batch = {"predictions": [factories.prediction(0, subject_id="applicant-10482")]}
    assert model.post("/v1/models/credit/predictions", json=batch).json()["duplicates"] == 1


def test_another_key_gives_other_pseudonyms(client_with: Any, engine: Engine) -> None:
    secret = "k" * 40
    client = client_with(pseudonym_key=secret)
    assert client.post("/v1/models", json=factories.registration()).status_code == 201
    send(client, 0, 1, "applicant-7")
    assert scalar(engine, "SELECT subject_id FROM predictions") == oracle("applicant-7", secret)


def test_erasure_deletes_the_subjects_events_only_and_is_audited(
    model: AppClient, engine: Engine, settings: Settings
) -> None:
    send(model, 0, 4, "alice")
    send(model, 4, 3, "bob")
    send(model, 7, 2, "alice")
    fold(settings)
    profiles_before = scalar(engine, "SELECT count(*) FROM bucket_profiles")
    assert profiles_before > 0
    reader = make_key(model, "read")
    assert model.delete("/v1/subjects/alice", headers=bearer(reader)).status_code == 403
    erased = model.delete("/v1/subjects/alice")
    assert erased.status_code == 200
    assert erased.json() | {"erased_at": None} == {
        "subject": oracle("alice"),
        "predictions_erased": 6,
        "outcomes_erased": 6,
        "erased_at": None,
    }
    assert scalar(engine, "SELECT count(*) FROM predictions") == 3
    assert scalar(engine, "SELECT count(*) FROM outcomes") == 3
    assert scalar(engine, "SELECT count(*) FROM predictions WHERE subject_id = :s", s=oracle("bob")) == 3
    assert scalar(engine, "SELECT count(*) FROM bucket_profiles") == profiles_before
    (event,) = model.get("/v1/audit", params={"action": "subject.erased"}).json()["events"]
    assert event["target"] == oracle("alice") and "alice" not in str(event)
    assert event["after"] == {"predictions_erased": 6, "outcomes_erased": 6}
    again = model.delete("/v1/subjects/alice").json()
    assert (again["predictions_erased"], again["outcomes_erased"]) == (0, 0)
    too_long = model.delete("/v1/subjects/" + "x" * 201)
    assert too_long.status_code == 422 and too_long.json()["errors"][0]["field"] == "subject_id"


def test_retention_deletes_old_raw_events_by_time_and_keeps_profiles(
    model: AppClient, settings: Settings, engine: Engine
) -> None:
    # factories.START is 2026-11-01; NOW is 2026-11-22: 21 days of age.
    send(model, 0, 5, "carol")
    database = create_database_engine(settings)
    sessions = create_session_factory(database)
    later = NOW + timedelta(days=91 - 21 + 1)  # the events are now 92 days old
    try:
        job = RetentionJob(sessions, frozen_clock(later), retention_days=90)
        Pipeline(sessions, settings, frozen_clock(NOW)).catch_up()
        profiles = scalar(engine, "SELECT count(*) FROM bucket_profiles")
        assert profiles > 0
        assert RetentionJob(sessions, frozen_clock(NOW), 90).run(NOW) == (0, 0), "young events stay"
        assert job.run(later) == (5, 5)
        assert scalar(engine, "SELECT count(*) FROM predictions") == 0
        assert scalar(engine, "SELECT count(*) FROM bucket_profiles") == profiles
        assert job.run_if_due() == (0, 0)  # ran just now: not due for an hour
        send(model, 10, 3, "dave")  # never folded: retention goes by time, not by aggregation
        assert job.run(later) == (3, 3)
    finally:
        database.dispose()
