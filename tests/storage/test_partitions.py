"""Postgres time partitions of the event tables: made ahead by the workers, made on demand by
ingestion, idempotency across partitions, retention by dropping whole partitions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from service.app import create_app
from service.clock import frozen_clock
from service.config import Settings
from service.privacy.jobs import Partitioning, RetentionJob
from service.storage.database import create_database_engine, create_session_factory
from service.storage.partitions import Partition, uncovered
from service.storage.roles import grant_service_role
from tests import factories
from tests.asgi_client import AppClient, app_client
from tests.conftest import NOW
from tests.storage import test_roles
from tests.storage.test_roles import Roles

roles_fixture = test_roles.roles  # a throwaway database with an owner and a service role

pytestmark = pytest.mark.postgres

DAY = timedelta(days=1)


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    made = create_engine(postgres_url)
    _drop_partitions(made)
    yield made
    made.dispose()


@pytest.fixture
def api(postgres_url: str, engine: Engine) -> Iterator[AppClient]:
    application = create_app(Settings(database_url=postgres_url, run_jobs=False), clock=frozen_clock(NOW))
    with app_client(application) as client:
        assert client.post("/v1/models", json=factories.registration()).status_code == 201
        yield client
    application.state.context.engine.dispose()


def _drop_partitions(engine: Engine) -> None:
    """Start with no partition at all (tests before this one left theirs)."""
    with engine.begin() as connection:
        for name in _partitions(connection, "predictions") + _partitions(connection, "outcomes"):
            connection.execute(text(f"DROP TABLE {name}"))


def _partitions(connection: Any, table: str) -> list[str]:
    query = text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = CAST(:t AS regclass) ORDER BY c.relname"
    )
    return list(connection.execute(query, {"t": table}).scalars())


def _names(engine: Engine, table: str) -> list[str]:
    with engine.connect() as connection:
        return _partitions(connection, table)


def _scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar()


def _days(first: datetime, last: datetime) -> list[str]:
    count = (last - first).days + 1
    return [f"{first + k * DAY:%Y%m%d}" for k in range(count)]


def test_a_maintenance_run_makes_partitions_ahead_with_their_indexes(
    postgres_url: str, engine: Engine
) -> None:
    database = create_database_engine(Settings(database_url=postgres_url, run_jobs=False))
    sessions = create_session_factory(database)
    try:
        job = RetentionJob(sessions, frozen_clock(NOW), 30, Partitioning(1, 90, 300))
        assert job.run(NOW) == (0, 0)
        # From now − 30 days (the retention; the 90-day horizon reaches further back, but
        # retention would delete those at once) to now + 300 s + 7 days, one per day.
        expected = _days(datetime(2026, 10, 23, tzinfo=UTC), datetime(2026, 11, 29, tzinfo=UTC))
        assert _names(engine, "predictions") == [f"predictions_p{day}" for day in expected]
        assert _names(engine, "outcomes") == [f"outcomes_p{day}" for day in expected]
        assert job.make_partitions(NOW) == []  # nothing missing: nothing made
    finally:
        database.dispose()
    indexes = text("SELECT indexdef FROM pg_indexes WHERE tablename = :t ORDER BY indexdef")
    with engine.connect() as connection:
        found = [
            d.split(" USING ")[1]
            for d in connection.execute(indexes, {"t": "predictions_p20261122"}).scalars()
        ]
        assert found == [
            "btree (model_id, event_time)",
            "btree (model_id, id)",
            "btree (model_id, prediction_id)",
            "btree (subject_id) WHERE (subject_id IS NOT NULL)",
        ]
        found = [
            d.split(" USING ")[1] for d in connection.execute(indexes, {"t": "outcomes_p20261122"}).scalars()
        ]
        assert found == ["btree (model_id, id)", "btree (model_id, prediction_id)"]


def test_a_changed_span_fills_only_the_gaps() -> None:
    """Weekly slots after daily partitions: only the uncovered days are made, never overlaps."""
    day = datetime(2026, 11, 19, tzinfo=UTC)
    existing = [Partition("a", day, day + DAY), Partition("b", day + 2 * DAY, day + 3 * DAY)]
    week = (datetime(2026, 11, 19, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC))
    assert uncovered([week], existing) == [(day + DAY, day + 2 * DAY), (day + 3 * DAY, week[1])]


def test_ingestion_into_a_period_without_partitions_creates_them(api: AppClient, engine: Engine) -> None:
    assert _names(engine, "predictions") == []
    few = factories.predictions(0, 3)  # an INSERT below COPY_THRESHOLD rows
    assert api.post("/v1/models/credit/predictions", json=few).json()["accepted"] == 3
    later = factories.START + 3 * DAY
    hourly = [(later + k * timedelta(hours=1)).isoformat() for k in range(60)]
    many = {"predictions": [factories.prediction(100 + k, timestamp=at) for k, at in enumerate(hourly)]}
    assert api.post("/v1/models/credit/predictions", json=many).json()["accepted"] == 60  # COPY
    outcomes = {"outcomes": [factories.outcome(i) for i in range(100, 160)]}
    assert api.post("/v1/models/credit/outcomes", json=outcomes).json()["accepted"] == 60
    assert _names(engine, "predictions") == [
        "predictions_p20261101",
        "predictions_p20261104",
        "predictions_p20261105",
        "predictions_p20261106",
    ]  # fmt: skip  (60 hours from Nov 4 reach into Nov 6)
    assert _names(engine, "outcomes") == ["outcomes_p20261122"]  # by arrival: now
    assert _scalar(engine, "SELECT count(*) FROM predictions") == 63
    assert _scalar(engine, "SELECT count(*) FROM prediction_keys") == 63
    assert _scalar(engine, "SELECT count(*) FROM outcome_keys") == 60


def _send(api: AppClient, records: list[dict[str, Any]]) -> Any:
    return api.post("/v1/models/credit/predictions", json={"predictions": records})


@pytest.mark.parametrize("batch", [1, 60])
def test_a_resend_across_a_partition_boundary_is_a_conflict_or_a_duplicate(
    api: AppClient, engine: Engine, batch: int
) -> None:
    """The same id with its event time moved to the next day (another partition) is a 409;
    the identical record is a duplicate, stored once. ``batch`` 60: the COPY path."""
    before_midnight = datetime(2026, 11, 21, 23, 59, tzinfo=UTC)
    original = factories.prediction(0, timestamp=before_midnight.isoformat())
    moved = factories.prediction(0, timestamp=(before_midnight + timedelta(minutes=2)).isoformat())
    others = [factories.prediction(i, prefix="q") for i in range(1, batch)]
    assert _send(api, [original]).json()["accepted"] == 1
    conflict = _send(api, [moved, *others])
    assert conflict.status_code == 409, conflict.text
    assert "timestamp" in conflict.json()["errors"][0]["message"]
    assert _scalar(engine, "SELECT count(*) FROM predictions") == 1  # nothing of the batch stored
    again = _send(api, [original, *others]).json()
    assert (again["accepted"], again["duplicates"]) == (batch - 1, 1)
    assert _scalar(engine, "SELECT count(*) FROM predictions WHERE prediction_id = 'p0'") == 1
    assert _scalar(engine, "SELECT count(*) FROM prediction_keys") == batch
    # The original's partition ends at midnight; the moved one's (Nov 22), made on demand by the
    # refused request, went with its rollback.
    assert "predictions_p20261121" in _names(engine, "predictions")
    assert "predictions_p20261122" not in _names(engine, "predictions")


def test_retention_drops_whole_partitions_and_trims_the_straddling_one(
    api: AppClient, engine: Engine, postgres_url: str
) -> None:
    # Six predictions a day from Nov 1 to Nov 5, at 02:00, 06:00 … 22:00; outcomes for all.
    times = [factories.START + day * DAY + timedelta(hours=2 + 4 * k) for day in range(5) for k in range(6)]
    records = [factories.prediction(i, timestamp=at.isoformat()) for i, at in enumerate(times)]
    assert _send(api, records).json()["accepted"] == 30
    outcomes = {"outcomes": [factories.outcome(i) for i in range(30)]}
    assert api.post("/v1/models/credit/outcomes", json=outcomes).json()["accepted"] == 30
    ids = dict(_rows(engine, "SELECT prediction_id, id FROM predictions"))
    # 90 days of retention seen from Feb 1 2027, 12:00: the cutoff is Nov 3, 12:00.
    later = datetime(2027, 2, 1, 12, tzinfo=UTC)
    database = create_database_engine(Settings(database_url=postgres_url, run_jobs=False))
    try:
        job = RetentionJob(create_session_factory(database), frozen_clock(later), 90)
        # Nov 1 and 2 dropped whole (12); on Nov 3 the rows at 02:00, 06:00 and 10:00 deleted (3).
        assert job.run(later) == (15, 15)
    finally:
        database.dispose()
    names = _names(engine, "predictions")
    assert "predictions_p20261102" not in names and names[0] == "predictions_p20261103"
    kept = dict(_rows(engine, "SELECT prediction_id, id FROM predictions"))
    assert kept == {f"p{i}": ids[f"p{i}"] for i in range(15, 30)}, "nothing younger lost"
    assert set(dict(_rows(engine, "SELECT prediction_id, model_id FROM prediction_keys"))) == set(kept)
    assert set(dict(_rows(engine, "SELECT prediction_id, model_id FROM outcomes"))) == set(kept)
    assert set(dict(_rows(engine, "SELECT prediction_id, model_id FROM outcome_keys"))) == set(kept)
    # A resend of a deleted prediction is stored again, as it would be on SQLite.
    assert _send(api, [records[0]]).json()["accepted"] == 1


def _rows(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql))]


def test_the_service_role_makes_and_drops_partitions_it_does_not_own(roles_fixture: Roles) -> None:
    """Production runs as a role that owns no table: the partition DDL goes through the owner's
    SECURITY DEFINER functions (storage/partitions.py), granted by `db grant`."""
    roles = roles_fixture
    owner = create_engine(roles.owner_url)
    grant_service_role(owner, make_url(roles.service_url).username or "")
    _drop_partitions(owner)
    settings = Settings(database_url=roles.service_url, run_jobs=False)
    application = create_app(settings, clock=frozen_clock(NOW))
    try:
        with app_client(application) as client:
            assert client.post("/v1/models", json=factories.registration()).status_code == 201
            assert _send(client, [factories.prediction(i) for i in range(60)]).json()["accepted"] == 60
        assert _names(owner, "predictions") == ["predictions_p20261101"]
        later = factories.START + timedelta(days=92)
        job = RetentionJob(application.state.context.sessions, frozen_clock(later), 90)
        assert job.run(later) == (60, 0)
        assert "predictions_p20261101" not in _names(owner, "predictions")
        assert _scalar(owner, "SELECT count(*) FROM prediction_keys") == 0
    finally:
        application.state.context.engine.dispose()
        owner.dispose()
