"""Claiming rows so that any number of workers may run the same job: ``FOR UPDATE SKIP LOCKED``.

On Postgres a row another transaction holds is skipped instead of waited for, so two workers
take disjoint work; SQLite has one writer at a time and renders no lock clause, so the same
statements run on both. The claim lasts until the transaction ends.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import GenerativeSelect

from service.storage.dialect import insert_ignoring_duplicates, local_lock_timeout

QueryT = TypeVar("QueryT", bound=GenerativeSelect)
EntityT = TypeVar("EntityT")


def skip_locked(query: QueryT, *, of: Any = None) -> QueryT:
    """``query`` locking the rows it returns (only those of ``of`` when given), skipping rows
    another worker holds."""
    return query.with_for_update(skip_locked=True, of=of)


def claim_waiting(session: Session, query: Select[Any], *, lock_timeout: str, of: Any = None) -> list[Any]:
    """The entities (first column) of ``query`` locked for this transaction, waiting for a
    worker that holds them (at most ``lock_timeout``, then ``OperationalError``); the
    statements after it wait for locks as the server's setting says again."""
    local_lock_timeout(session, lock_timeout)
    # A timed-out statement aborts the transaction: nothing may run after it but the rollback.
    rows = list(session.execute(query.with_for_update(of=of)).scalars())
    local_lock_timeout(session, None)
    return rows


def claim_singleton(session: Session, entity: type[EntityT], stream: str, **initial: Any) -> EntityT | None:
    """The one row of ``entity`` keyed by ``stream`` (created with ``initial`` when absent),
    locked for this transaction; None when another worker holds it."""
    session.execute(insert_ignoring_duplicates(session, entity, ["stream"]).values(stream=stream, **initial))
    key = getattr(entity, "stream")  # noqa: B009  (the key column every singleton table has)
    return session.execute(skip_locked(select(entity).where(key == stream))).scalar_one_or_none()
