"""Compose's init script, run for real with psql against the test Postgres: it creates the
service role, `modelmon migrate` with compose's two URLs grants it, and production then
serves as that role."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_ADMIN_URL, _admin_execute, _postgres_reachable
from tests.deploy.support import REPO
from tests.tools import require_binary

pytestmark = pytest.mark.postgres

INIT_SCRIPT = REPO / "docker" / "postgres-init" / "10-service-role.sh"
SERVICE_ROLE = "modelmon_service"  # the name compose's URLs use (tests/deploy/test_compose.py)
PASSWORD = "Tq8-zW3m.Rk5_vN2xP7"
STRONG_KEY = "kV3pX9qL2mZ7wR4tY8nB6cH1jF5gD0sA"


@pytest.fixture
def database() -> Iterator[str]:
    problem = _postgres_reachable()
    if problem is not None:
        pytest.skip(f"Postgres is unreachable ({problem})")
    name = f"modelmon_compose_{uuid.uuid4().hex[:10]}"
    _admin_execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin_execute(f'DROP ROLE IF EXISTS "{SERVICE_ROLE}"')


def _url(database: str, user: str) -> str:
    url = make_url(POSTGRES_ADMIN_URL).set(database=database, username=user, password=PASSWORD)
    return url.render_as_string(hide_password=False)


def test_the_init_script_makes_the_role_that_migrate_grants_and_production_serves_as(database: str) -> None:
    admin = make_url(POSTGRES_ADMIN_URL)
    owner = admin.username or "postgres"
    init = {
        "PATH": os.environ.get("PATH", ""),
        "PGHOST": admin.host or "127.0.0.1",
        "PGPORT": str(admin.port or 5432),
        "POSTGRES_USER": owner,
        "POSTGRES_DB": database,
        "POSTGRES_SERVICE_PASSWORD": PASSWORD,
    }
    require_binary("psql")
    created = subprocess.run(["sh", str(INIT_SCRIPT)], env=init, capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stderr
    settings = {
        "PATH": os.environ.get("PATH", ""),
        "MODELMON_ENV": "production",
        "MODELMON_DATABASE_URL": _url(database, SERVICE_ROLE),
        "MODELMON_MIGRATION_DATABASE_URL": _url(database, owner),
        "MODELMON_PSEUDONYM_KEY": STRONG_KEY,
        "MODELMON_SECRET_KEY": STRONG_KEY[::-1],
        "MODELMON_WORKER_METRICS_PORT": "0",
    }
    for command in (["migrate"], ["worker", "--once"], ["audit", "verify"]):
        result = subprocess.run(
            [sys.executable, "-m", "service", *command],
            env=settings,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"{command}: {result.stderr}"
