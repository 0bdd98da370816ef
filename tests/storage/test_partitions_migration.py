"""Migration 0010 moves an existing installation's events into the partitioned tables: every
row and id kept, keys filled, new ids above the old; the downgrade puts them back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from service.storage.migrations import downgrade, upgrade
from tests.conftest import POSTGRES_ADMIN_URL, _admin_execute

pytestmark = pytest.mark.postgres

BEFORE = "0009"
START = datetime(2026, 11, 1, tzinfo=UTC)
_PREDICTIONS = text(
    "INSERT INTO predictions (model_id, version_id, prediction_id, event_time, received_at, features,"
    " attributes, score, subject_id, content_hash) VALUES (:m, 1, :p, :t, :t, CAST(:f AS jsonb),"
    " '{}'::jsonb, :s, :subject, :h)"
)
_OUTCOMES = text(
    "INSERT INTO outcomes (model_id, prediction_id, label, outcome_time, received_at, content_hash)"
    " VALUES (:m, :p, '1', :t, :t, :h)"
)


@pytest.fixture
def old_database(postgres_database: str) -> Iterator[str]:
    name = f"modelmon_migration_{uuid.uuid4().hex[:12]}"
    _admin_execute(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url, BEFORE)
        yield url
    finally:
        _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _fill(engine: Engine) -> None:
    """40 predictions over 4 days of two models, in an order that is not time order; 25 outcomes."""
    with engine.begin() as connection:
        for i in range(40):
            at = START + timedelta(days=(i * 7) % 4, minutes=i)
            params = {"m": 1 + i % 2, "p": f"p{i}", "t": at, "f": f'{{"x": {i}}}', "s": i / 40,
                      "subject": f"s{i % 3}" if i % 4 else None, "h": bytes([i]) * 16}  # fmt: skip
            connection.execute(_PREDICTIONS, params)
        for i in range(25):
            at = START + timedelta(days=20 + i % 3, hours=i)
            connection.execute(_OUTCOMES, {"m": 1 + i % 2, "p": f"p{i}", "t": at, "h": bytes([i]) * 16})


def _all(engine: Engine, table: str) -> list[dict[str, Any]]:
    """Every row; ``numbers`` (added by 0014, after the partition migration) only where set:
    rows stored before it keep NULL there and are read from their documents."""
    with engine.connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
    return [{k: v for k, v in row.items() if not (k == "numbers" and v is None)} for row in rows]


def _kind(engine: Engine, table: str) -> str:
    with engine.connect() as connection:
        return str(
            connection.execute(text("SELECT relkind FROM pg_class WHERE relname = :t"), {"t": table}).scalar()
        )


def test_the_migration_moves_every_row_and_new_ids_continue_above(old_database: str) -> None:
    engine = create_engine(old_database)
    try:
        _fill(engine)
        predictions, outcomes = _all(engine, "predictions"), _all(engine, "outcomes")
        upgrade(old_database)
        assert (_kind(engine, "predictions"), _kind(engine, "outcomes")) == ("p", "p")
        assert _all(engine, "predictions") == predictions
        assert _all(engine, "outcomes") == outcomes
        with engine.connect() as connection:
            keys = set(
                connection.execute(text("SELECT model_id, prediction_id, event_time FROM prediction_keys"))
            )
            assert keys == {(row["model_id"], row["prediction_id"], row["event_time"]) for row in predictions}
            received = set(
                connection.execute(text("SELECT model_id, prediction_id, received_at FROM outcome_keys"))
            )
            assert received == {
                (row["model_id"], row["prediction_id"], row["received_at"]) for row in outcomes
            }
        with engine.begin() as connection:
            row = {"m": 1, "p": "new", "t": START, "f": "{}", "s": 0.5, "subject": None, "h": b"n" * 16}
            connection.execute(_PREDICTIONS, row)
            new_id = connection.execute(
                text("SELECT id FROM predictions WHERE prediction_id = 'new'")
            ).scalar()
        assert new_id == max(row["id"] for row in predictions) + 1
        downgrade(old_database, BEFORE)
        assert (_kind(engine, "predictions"), _kind(engine, "outcomes")) == ("r", "r")
        assert [row["id"] for row in _all(engine, "predictions")] == [
            *(row["id"] for row in predictions),
            new_id,
        ]
        assert _all(engine, "outcomes") == outcomes
    finally:
        engine.dispose()
