"""The schema built by the migrations is the schema the models describe, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from service.storage.event_tables import include_object
from service.storage.migrations import current_revision, downgrade, head_revision, upgrade
from service.storage.tables import Base


def _differences(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            include = include_object(connection.dialect.name)
            opts = {"compare_type": True, "include_object": include}
            context = MigrationContext.configure(connection, opts=opts)
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrated_schema_equals_the_models(database_url: str) -> None:
    assert _differences(database_url) == []


@pytest.mark.slow
def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    dialect = make_url(database_url).get_backend_name()
    model_tables = {t.name for t in Base.metadata.sorted_tables if t.info.get("dialect", dialect) == dialect}
    assert model_tables <= _tables(database_url)
    downgrade(database_url, "base")
    assert _tables(database_url) & model_tables == set()
    upgrade(database_url)
    assert model_tables <= _tables(database_url)
    assert _differences(database_url) == []
    engine = create_engine(database_url)
    assert current_revision(engine) == head_revision()
    engine.dispose()
