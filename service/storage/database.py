"""Engine and unit of work: one transaction per request or job, opened at the edge."""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.storage import tables  # noqa: F401  (every table registered: foreign keys cross domains)
from service.storage.partitions import set_partition_days

# A writer waits this long for SQLite's single write lock before giving up (5 s covers a
# 10,000-row batch, which commits in ~0.3 s here).
SQLITE_BUSY_TIMEOUT_MS = 5_000


def _json_text(value: Any) -> str:
    # orjson: ~6x faster than json.dumps on feature dicts, and the same text for the same value.
    return orjson.dumps(value).decode()


def create_database_engine(settings: Settings) -> Engine:
    """The engine for ``settings.database_url``, tuned for its database."""
    if settings.is_sqlite:
        return _sqlite_engine(settings.database_url)
    engine = create_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_pre_ping=True,  # survive a Postgres restart without restarting modelmon
        # A connection attempt and a statement are bounded, so a hung database answers 503
        # instead of holding a request (and a pool slot) forever.
        connect_args={
            "connect_timeout": max(1, round(settings.database_timeout_seconds)),
            "options": f"-c statement_timeout={round(settings.database_timeout_seconds * 1000)}",
        },
        insertmanyvalues_page_size=1000,
        json_serializer=_json_text,
        json_deserializer=orjson.loads,
    )
    set_partition_days(engine, settings.partition_days)
    return engine


def _sqlite_engine(url: str) -> Engine:
    # The driver's own transaction handling is switched off (isolation_level=None) so that
    # every transaction can start with BEGIN IMMEDIATE: two deferred transactions that both
    # read and then write deadlock on SQLite instead of waiting for each other.
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "isolation_level": None},
        json_serializer=_json_text,
        json_deserializer=orjson.loads,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe with WAL
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


# One lock per SQLite engine. SQLite admits one writer at a time, and every transaction
# here starts with BEGIN IMMEDIATE; threads of one process that found the database locked
# used to sleep in SQLite's busy handler (1, 2, 5 … 100 ms steps), which put single-record
# requests' p99 at ~120 ms with 4 clients. Queueing on a Python lock wakes the next thread
# as soon as the previous transaction ends. Other processes still meet busy_timeout.
_SQLITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    if engine.dialect.name == "sqlite":
        _SQLITE_LOCKS[engine] = threading.Lock()
    return sessionmaker(engine, expire_on_commit=False, autoflush=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session in one transaction: committed when the block ends, rolled back on error."""
    bind = factory.kw.get("bind")
    lock = _SQLITE_LOCKS.get(bind) if isinstance(bind, Engine) else None
    if lock is None:
        with factory.begin() as session:
            yield session
        return
    with lock, factory.begin() as session:
        yield session
