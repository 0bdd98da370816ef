"""The audit log's hash chain: `modelmon audit verify` finds a changed or removed row, an
exported head catches the newest rows removed, and concurrent writers never fork the chain."""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine, create_engine, text

from service.audit.commands import EXIT_BROKEN, run
from service.audit.service import Action, record
from service.config import Settings
from service.kernel.principal import Principal, Role
from service.storage.database import create_database_engine, create_session_factory, unit_of_work
from tests import factories
from tests.asgi_client import AppClient
from tests.auth.test_keys import make_key
from tests.conftest import NOW


def _verify(
    database_url: str, capsys: pytest.CaptureFixture[str], head: str | None = None
) -> tuple[int, str]:
    status = run(Settings(database_url=database_url), argparse.Namespace(head=head))
    return status, capsys.readouterr().out


def _as_owner(database_url: str, statement: str) -> None:
    """Run ``statement`` as the owner with the append-only triggers lifted, as an attacker
    who owns the table (or the database file) can."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
        else:
            connection.execute(text("DROP TRIGGER audit_events_no_update"))
            connection.execute(text("DROP TRIGGER audit_events_no_delete"))
        connection.execute(text(statement))
        if engine.dialect.name == "postgresql":  # the database is shared by the tests that follow
            connection.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))
    engine.dispose()


def _five_events(client: AppClient) -> None:
    for role in ("read", "read", "admin"):
        make_key(client, role)
    assert client.post("/v1/models", json=factories.registration()).status_code == 201
    assert client.put("/v1/models/credit/monitor", json={"window": "12h", "step": "1h"}).status_code == 200


@pytest.mark.slow
def test_an_intact_chain_verifies_and_a_changed_row_is_named(
    client: AppClient, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _five_events(client)
    status, out = _verify(database_url, capsys)
    assert status == 0 and "audit chain OK: 5 rows; head " in out
    _as_owner(database_url, "UPDATE audit_events SET actor_name = 'someone else' WHERE id = 2")
    status, out = _verify(database_url, capsys)
    assert status == EXIT_BROKEN
    assert "BROKEN at row 2" in out and "1 rows before it are intact" in out


@pytest.mark.slow
def test_a_removed_row_breaks_the_next_link(
    client: AppClient, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _five_events(client)
    _as_owner(database_url, "DELETE FROM audit_events WHERE id = 3")
    status, out = _verify(database_url, capsys)
    assert status == EXIT_BROKEN and "BROKEN at row 4" in out


@pytest.mark.slow
def test_the_newest_rows_removed_are_caught_only_against_an_exported_head(
    client: AppClient, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _five_events(client)
    status, out = _verify(database_url, capsys)
    head = out.rsplit("head ", 1)[1].strip()
    assert _verify(database_url, capsys, head)[0] == 0
    _as_owner(database_url, "DELETE FROM audit_events WHERE id = 5")
    status, out = _verify(database_url, capsys)
    assert status == 0  # what the chain alone cannot see (docs/security.md)
    status, out = _verify(database_url, capsys, head)
    assert status == EXIT_BROKEN and f"the exported head {head} is not in it" in out


@pytest.mark.slow
def test_the_command_exits_non_zero_on_a_broken_chain(client: AppClient, database_url: str) -> None:
    _five_events(client)
    _as_owner(database_url, "UPDATE audit_events SET after = NULL WHERE id = 5")
    environment = {"MODELMON_DATABASE_URL": database_url, "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-m", "service", "audit", "verify"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == EXIT_BROKEN, result.stderr
    assert "audit chain BROKEN at row 5" in result.stdout


def _append_many(engine: Engine, writer: int, count: int, start: threading.Barrier) -> None:
    sessions = create_session_factory(engine)
    actor = Principal(actor=f"key:writer{writer}", name=f"writer {writer}", role=Role.ADMIN)
    start.wait()
    for index in range(count):
        with unit_of_work(sessions) as session:
            at = NOW + timedelta(microseconds=index)
            record(session, actor, Action.MONITOR_CHANGED, ("model", f"m{writer}"), at, after={"i": index})


@pytest.mark.postgres
def test_concurrent_writers_do_not_fork_the_chain(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = create_database_engine(Settings(database_url=postgres_url))
    start = threading.Barrier(4)
    writers = [threading.Thread(target=_append_many, args=(engine, w, 25, start)) for w in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=60)
    engine.dispose()
    status, out = _verify(postgres_url, capsys)
    assert status == 0 and "audit chain OK: 100 rows" in out


@pytest.mark.slow
@pytest.mark.parametrize("value", [-0.0, 1e300, 1e-7, 10**19, {"b": 1, "a": [2.5]}, "cafe\u0301"])
def test_documents_verify_as_the_database_stores_them(
    database_url: str, capsys: pytest.CaptureFixture[str], value: object
) -> None:
    """Postgres's jsonb stores -0.0 as 0 and reorders keys: the hash covers the stored form."""
    engine = create_database_engine(Settings(database_url=database_url))
    actor = Principal(actor="cli:alice", name="alice", role=Role.ADMIN)
    with unit_of_work(create_session_factory(engine)) as session:
        record(session, actor, Action.MONITOR_CHANGED, ("model", "m"), NOW, after={"value": value})
    engine.dispose()
    status, out = _verify(database_url, capsys)
    assert status == 0, out


def test_events_about_a_target_up_to_a_time_are_found_behind_newer_ones(database_url: str) -> None:
    """A report for a past period reads the newest events up to its end: events recorded
    after that end, however many, must not take the places the limit leaves."""
    from service.audit.queries import events_about

    engine = create_database_engine(Settings(database_url=database_url))
    sessions = create_session_factory(engine)
    actor = Principal(actor="cli:alice", name="alice", role=Role.ADMIN)
    end = NOW - timedelta(days=1)
    with unit_of_work(sessions) as session:
        for k in range(3):  # before the period's end
            record(
                session,
                actor,
                Action.MONITOR_CHANGED,
                ("model", "m"),
                end - timedelta(hours=3 - k),
                after={"k": k},
            )
        for k in range(5):  # after it: more than the limit
            record(
                session,
                actor,
                Action.MONITOR_CHANGED,
                ("model", "m"),
                end + timedelta(hours=k + 1),
                after={"k": 3 + k},
            )
        record(
            session,
            actor,
            Action.MONITOR_CHANGED,
            ("model", "other"),
            end - timedelta(hours=1),
            after={"k": 9},
        )
    with unit_of_work(sessions) as session:
        found = events_about(session, ("model", "m"), [Action.MONITOR_CHANGED.value], end, 2)
        everything = events_about(session, ("model", "m"), [Action.MONITOR_CHANGED.value], end, 10)
    engine.dispose()
    assert [e.after for e in found] == [{"k": 1}, {"k": 2}]  # the 2 newest up to the end, oldest first
    assert [e.after for e in everything] == [{"k": 0}, {"k": 1}, {"k": 2}]
