"""Fixtures of the fault tests: a proxy in front of the test's Postgres database, an app
whose database URL points at the proxy, and a direct look at what is stored."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url

from service.app import create_app
from service.clock import frozen_clock
from service.config import Settings
from service.storage.event_tables import Outcome, Prediction
from tests.asgi_client import AppClient, app_client
from tests.conftest import NOW
from tests.faults.proxy import FaultProxy


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[FaultProxy]:
    url = make_url(postgres_url)
    with FaultProxy((url.host or "127.0.0.1", url.port or 5432)) as running:
        yield running


@pytest.fixture
def proxied_url(postgres_url: str, proxy: FaultProxy) -> str:
    """The test database's URL, through the proxy."""
    return make_url(postgres_url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


@pytest.fixture
def proxied_app(proxied_url: str) -> Iterator[FastAPI]:
    application = create_app(Settings(database_url=proxied_url, run_jobs=False), clock=frozen_clock(NOW))
    yield application
    application.state.context.engine.dispose()


@pytest.fixture
def proxied_client(proxied_app: FastAPI) -> Iterator[AppClient]:
    with app_client(proxied_app) as test_client:
        yield test_client


class Stored:
    """Counts read straight from Postgres (not through the proxy)."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url)

    def predictions(self, ids: list[str]) -> int:
        return self._count(Prediction, ids)

    def outcomes(self, ids: list[str]) -> int:
        return self._count(Outcome, ids)

    def _count(self, table: type[Prediction] | type[Outcome], ids: list[str]) -> int:
        query = select(func.count()).select_from(table).where(table.prediction_id.in_(ids))
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until no other backend of this database is busy or inside a transaction.

        A cut connection's backend rolls back (or finishes its COMMIT) when it reads the end
        of its socket: milliseconds, more on a loaded machine. Counting before then could see
        a batch whose COMMIT is still on its way in.
        """
        busy = text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state IS DISTINCT FROM 'idle'"
        )
        deadline = time.monotonic() + timeout
        with self.engine.connect() as connection:
            while connection.execute(busy).scalar_one() and time.monotonic() < deadline:
                connection.rollback()
                time.sleep(0.01)


@pytest.fixture
def stored(postgres_url: str) -> Iterator[Stored]:
    looker = Stored(postgres_url)
    yield looker
    looker.engine.dispose()
