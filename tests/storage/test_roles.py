"""Two database roles on Postgres: the service's role reads and writes what it needs but cannot
UPDATE, DELETE, TRUNCATE or ALTER the audit log; production refuses to serve as the owner."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from service.app import create_app
from service.config import Settings
from service.storage.migrations import upgrade
from service.storage.roles import audit_privilege_problems, grant_service_role
from tests.asgi_client import app_client
from tests.conftest import POSTGRES_ADMIN_URL, _admin_execute, _postgres_reachable

pytestmark = pytest.mark.postgres

# Postgres here trusts every local connection, so any password logs in; this one is strong
# enough for production's checks. Production settings the subprocesses run with:
PASSWORD = "Tq8-zW3m.Rk5_vN2xP7"
STRONG_KEY = "kV3pX9qL2mZ7wR4tY8nB6cH1jF5gD0sA"


@dataclass(frozen=True)
class Roles:
    owner_url: str
    service_url: str


def _url(database: str, user: str) -> str:
    url = make_url(POSTGRES_ADMIN_URL).set(database=database, username=user, password=PASSWORD)
    return url.render_as_string(hide_password=False)


@pytest.fixture
def roles() -> Iterator[Roles]:
    """A throwaway database migrated by its owner, and a service role granted by `db grant`."""
    problem = _postgres_reachable()
    if problem is not None:
        pytest.skip(f"Postgres is unreachable ({problem})")
    suffix = uuid.uuid4().hex[:10]
    database, role = f"modelmon_roles_{suffix}", f"modelmon_service_{suffix}"
    owner = make_url(POSTGRES_ADMIN_URL).username or "postgres"
    _admin_execute(f'CREATE DATABASE "{database}"')
    _admin_execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        upgrade(_url(database, owner))
        yield Roles(_url(database, owner), _url(database, role))
    finally:
        _admin_execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        _admin_execute(f'DROP ROLE IF EXISTS "{role}"')


def _modelmon(roles: Roles, database_url: str, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "MODELMON_DATABASE_URL": database_url,
        "MODELMON_MIGRATION_DATABASE_URL": roles.owner_url,
        "MODELMON_PSEUDONYM_KEY": STRONG_KEY,
        "MODELMON_SECRET_KEY": STRONG_KEY[::-1],
        "MODELMON_WORKER_METRICS_PORT": "0",
        **extra,
    }
    command = [sys.executable, "-m", "service", *args]
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET actor_name = 'x'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
        "ALTER TABLE audit_events DISABLE TRIGGER ALL",
        "DROP TABLE audit_events",
    ],
)
def test_the_service_role_cannot_change_the_audit_log(roles: Roles, statement: str) -> None:
    migrated = _modelmon(roles, roles.service_url, "migrate")  # grants the service role
    assert migrated.returncode == 0, migrated.stderr
    assert "granted 'modelmon_service_" in migrated.stderr
    engine = create_engine(roles.service_url)
    with engine.connect() as connection:
        connection.execute(text("SELECT count(*) FROM audit_events")).scalar_one()
        with pytest.raises(ProgrammingError) as refused:
            connection.execute(text(statement))
    engine.dispose()
    # Refused for want of privilege, before the append-only trigger would be reached.
    assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)


def test_the_service_role_runs_the_api_and_appends_to_the_audit_log(roles: Roles) -> None:
    engine = create_engine(roles.owner_url)
    grant_service_role(engine, make_url(roles.service_url).username or "")
    assert audit_privilege_problems(engine)  # the owner could rewrite it
    engine.dispose()
    settings = Settings(database_url=roles.service_url, run_jobs=False)
    app = create_app(settings)
    with app_client(app) as client:
        created = client.post("/v1/keys", json={"role": "read", "name": "reader"})
        assert created.status_code == 201, created.text
        assert client.post(
            "/v1/webhooks", json={"url": "http://127.0.0.1:9/h", "events": ["alert.firing"]}
        ).is_success
        actions = [event["action"] for event in client.get("/v1/audit").json()["events"]]
        assert actions == ["webhook.created", "key.created"]
    assert audit_privilege_problems(app.state.context.engine) == []
    app.state.context.engine.dispose()


def test_production_refuses_to_run_as_the_owner_of_the_audit_log(roles: Roles) -> None:
    assert _modelmon(roles, roles.service_url, "migrate", MODELMON_ENV="production").returncode == 0
    as_owner = _modelmon(roles, roles.owner_url, "worker", "--once", MODELMON_ENV="production")
    assert as_owner.returncode != 0
    assert (
        "refusing to start in production mode" in as_owner.stderr and "owns audit_events" in as_owner.stderr
    )
    as_service = _modelmon(roles, roles.service_url, "worker", "--once", MODELMON_ENV="production")
    assert as_service.returncode == 0, as_service.stderr
    verified = _modelmon(roles, roles.service_url, "audit", "verify", MODELMON_ENV="production")
    assert verified.returncode == 0 and "audit chain OK" in verified.stdout


def test_db_grant_gives_a_named_role_its_privileges_and_prints_them(roles: Roles) -> None:
    role = make_url(roles.service_url).username or ""
    engine = create_engine(roles.service_url)
    with engine.connect() as connection, pytest.raises(ProgrammingError):
        connection.execute(text("SELECT count(*) FROM api_keys"))  # nothing granted yet
    granted = _modelmon(roles, roles.owner_url, "db", "grant", "--role", role)
    assert granted.returncode == 0, granted.stderr
    assert f"GRANT SELECT, INSERT ON public.audit_events TO {role}\n" in granted.stdout
    assert audit_privilege_problems(engine) == []
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM api_keys"))
        connection.execute(text("SELECT count(*) FROM audit_events")).scalar_one()
    engine.dispose()
    owner = make_url(roles.owner_url).username or ""
    refused = _modelmon(roles, roles.owner_url, "db", "grant", "--role", owner)
    assert refused.returncode != 0 and "owns the tables" in refused.stderr
