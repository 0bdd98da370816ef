"""The few statements whose SQL differs between SQLite and Postgres."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignoring_duplicates(session: Session, table: Any, key: list[str]) -> Any:
    """``INSERT … ON CONFLICT (key) DO NOTHING`` for the session's database."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing(index_elements=key)
