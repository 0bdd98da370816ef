"""Test databases built by the migrations: SQLite and a throwaway Postgres database per run.

Every test that takes ``database_url`` runs twice, on SQLite and on Postgres. Isolation:
each SQLite test gets its own copy of a migrated template file; Postgres tests share one
database per test process (one per xdist worker) whose tables are truncated before each test.
Under ``CI=true`` an unreachable Postgres fails the run instead of skipping its tests.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from service.app import create_app
from service.clock import frozen_clock
from service.config import Settings
from service.storage.migrations import upgrade
from service.storage.tables import Base
from tests.asgi_client import AppClient, app_client
from tests.auth import TEST_ADMIN_KEY

# Every app and every server a test starts accepts this admin key (tests/auth/__init__.py).
os.environ.setdefault("MODELMON_ADMIN_KEY", TEST_ADMIN_KEY)
# The suite sends hundreds of requests a second with that one key; tests of the rate limit
# set it themselves.
os.environ.setdefault("MODELMON_RATE_LIMIT_PER_SECOND", "0")

POSTGRES_ADMIN_URL = os.environ.get(
    "MODELMON_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

_skipped_postgres: list[str] = []


# The modules holding the longest tests (`make test`'s --durations: 20 to 60 s each on 2 cores),
# longest first. They run first so that the two xdist workers end together on short tests;
# in the order of collection the Spark and fuzzing tests started in the last third, and the
# worker left with one of them ran alone for its last ~half minute.
LONGEST_FIRST = (
    "tests/profiles/test_spark_backfill.py",
    "tests/test_fuzz_api.py",
    "tests/demo/test_demo_run.py",
    "tests/windows/test_engine_scenario.py",
    "tests/export/test_prometheus.py",
    "tests/windows/test_worker_processes.py",
    "tests/aggregation/test_cursors.py",
    "tests/alerting/test_end_to_end.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the modules of LONGEST_FIRST to the front, each kept whole and in its own order
    (module-scoped fixtures are set up once), the rest in collection order."""
    rank = {module: place for place, module in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and "postgres" in report.keywords:
        _skipped_postgres.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if IN_CI and _skipped_postgres and exitstatus == 0:
        session.exitstatus = 1
        print(f"\nCI=true but {len(_skipped_postgres)} Postgres tests were skipped: failing the run")


def _postgres_reachable() -> str | None:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # any failure to connect means "no Postgres here"
        return f"{type(error).__name__}: {error}"
    return None


def _admin_execute(statement: str) -> None:
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(statement))
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A migrated, throwaway Postgres database for this test process; dropped at the end."""
    problem = _postgres_reachable()
    if problem is not None:
        message = f"Postgres at {make_url(POSTGRES_ADMIN_URL).render_as_string()} is unreachable ({problem})"
        if IN_CI:
            pytest.fail(message + " and CI=true requires it")
        pytest.skip(message)
    name = f"modelmon_test_{uuid.uuid4().hex[:12]}"
    _admin_execute(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def _truncate_all(url: str) -> None:
    """Empty every table and restart every id sequence. Tables are emptied by DELETE, children
    first: TRUNCATE makes new files for each table, partition and index, which took 0.31 s a
    test here against ~0.03 s. Tables whose triggers refuse DELETE (the append-only audit log)
    are truncated."""
    engine = create_engine(url)
    with engine.begin() as connection:
        guarded = set(connection.execute(text(_GUARDED)).scalars())
        tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
        if guarded & set(tables):
            connection.execute(text(f"TRUNCATE {', '.join(map(_quoted, guarded & set(tables)))} CASCADE"))
        for name in tables:
            if name not in guarded:
                connection.execute(text(f"DELETE FROM {_quoted(name)}"))
        connection.execute(text(_RESTART_SEQUENCES))
    engine.dispose()


# Tables with triggers of their own (not those behind foreign keys).
_GUARDED = (
    "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
    "WHERE NOT t.tgisinternal AND c.relnamespace = 'public'::regnamespace"
)
_RESTART_SEQUENCES = (
    "SELECT setval(c.oid, 1, false) FROM pg_class c "
    "WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace"
)


def _quoted(name: str) -> str:
    return f'"{name}"'


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A clean, migrated database: SQLite (a copy of the template) or Postgres (truncated)."""
    if request.param == "sqlite":
        path = tmp_path / "modelmon.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")
    _truncate_all(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A clean, migrated SQLite database alone, for a test whose subject has nothing to do with
    the database (HTTP headers, static assets) and that starts live servers, which cost ~3 s
    each on 2 cores: its Postgres twin proved nothing more."""
    path = tmp_path / "modelmon.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Jobs are driven explicitly by the engine tests; no background thread in the API.
    return Settings(database_url=database_url, run_jobs=False)


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings, clock=frozen_clock(NOW))
    yield application
    application.state.context.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[AppClient]:
    with app_client(app) as test_client:
        yield test_client


@pytest.fixture
def client_with(database_url: str) -> Iterator[Callable[..., AppClient]]:
    """Build a client whose settings differ from the defaults (e.g. small limits)."""
    with ExitStack() as stack:

        def build(**overrides: Any) -> AppClient:
            application = create_app(
                Settings(database_url=database_url, **{"run_jobs": False, **overrides}),
                clock=frozen_clock(NOW),
            )
            stack.callback(application.state.context.engine.dispose)
            return stack.enter_context(app_client(application))

        yield build


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    """A clean Postgres database, for tests that only make sense there (row locks, processes)."""
    _truncate_all(postgres_database)
    return postgres_database


@pytest.fixture(scope="session")
def reset_postgres(postgres_database: str) -> Callable[[], None]:
    """Empty every table again (a test that runs a scenario twice)."""
    return lambda: _truncate_all(postgres_database)
