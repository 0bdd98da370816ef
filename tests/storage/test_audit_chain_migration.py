"""Migration 0008 chains the audit rows written before it and leaves the log append-only."""

from __future__ import annotations

import argparse

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DatabaseError

from service.audit.commands import run
from service.config import Settings
from service.storage.migrations import downgrade, upgrade

_ROW = (
    "INSERT INTO audit_events (at, actor, actor_name, action, target_type, target, before, after) "
    "VALUES (:at, 'cli:alice', 'alice', 'key.created', 'key', :target, NULL, :after)"
)


def test_existing_rows_are_chained_and_the_triggers_come_back(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    downgrade(database_url, "0007")
    try:
        engine = create_engine(database_url)
        with engine.begin() as connection:
            for index in range(3):
                values = {"at": f"2026-11-2{index} 12:00:00", "target": f"mmk_{index}", "after": '{"n": 1.5}'}
                connection.execute(text(_ROW), values)
        engine.dispose()
    finally:
        upgrade(database_url)
    assert run(Settings(database_url=database_url), argparse.Namespace(head=None)) == 0
    assert "audit chain OK: 3 rows" in capsys.readouterr().out
    engine = create_engine(database_url)
    for statement in ("UPDATE audit_events SET actor = 'x'", "DELETE FROM audit_events"):
        with engine.begin() as connection, pytest.raises(DatabaseError, match="append-only"):
            connection.execute(text(statement))
    engine.dispose()
