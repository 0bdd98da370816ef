"""SQL of the audit log: append (to the hash chain) and read it; there is no update or delete."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.chain import ChainedRow, link
from service.storage.dialect import as_stored_json, serialise_transactions
from service.storage.trust_tables import AuditEvent

# The key of the Postgres advisory lock that serialises appends, so that two transactions
# never link to the same predecessor and fork the chain: "mmaudit" in ASCII.
CHAIN_LOCK_KEY = 0x6D6D6175646974
# Rows read per query while verifying: ~1 MB of rows at a time.
VERIFY_PAGE_ROWS = 1000


def append(session: Session, event: AuditEvent) -> AuditEvent:
    """Insert ``event`` linked to the newest row. Appends are serialised (on Postgres by an
    advisory lock held until the transaction ends, so other appenders wait for its commit and
    read its row as their predecessor; SQLite has one writer at a time already), and the hash
    covers ``before``/``after`` as the database will read them back."""
    serialise_transactions(session, CHAIN_LOCK_KEY)
    previous = session.scalar(select(AuditEvent.chain_hash).order_by(AuditEvent.id.desc()).limit(1))
    row = chained(event)
    before, after = as_stored_json(session, row.before, row.after)
    event.chain_hash = link(previous, dataclasses.replace(row, before=before, after=after))
    session.add(event)
    session.flush()
    return event


def chained(event: AuditEvent) -> ChainedRow:
    return ChainedRow(
        id=event.id,
        at=event.at,
        actor=event.actor,
        actor_name=event.actor_name,
        action=event.action,
        target_type=event.target_type,
        target=event.target,
        before=event.before,
        after=event.after,
        chain_hash=event.chain_hash,
    )


def in_order(session: Session) -> Iterator[ChainedRow]:
    """Every row, oldest first, read in pages by id."""
    after_id = 0
    while True:
        query = select(AuditEvent).where(AuditEvent.id > after_id).order_by(AuditEvent.id)
        rows = session.scalars(query.limit(VERIFY_PAGE_ROWS)).all()
        if not rows:
            return
        for row in rows:
            yield chained(row)
        after_id = rows[-1].id
        session.expunge_all()


@dataclass(frozen=True, slots=True)
class AuditFilter:
    action: str | None = None
    actor: str | None = None
    target_type: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None  # recorded at or before
    before_id: int | None = None
    limit: int = 100


def page(session: Session, where: AuditFilter) -> Sequence[AuditEvent]:
    """Events newest first (by id, which grows with commit order of the inserting transaction)."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(where.limit)
    if where.action is not None:
        query = query.where(AuditEvent.action == where.action)
    if where.actor is not None:
        query = query.where(AuditEvent.actor == where.actor)
    if where.target_type is not None:
        query = query.where(AuditEvent.target_type == where.target_type)
    if where.target is not None:
        query = query.where(AuditEvent.target == where.target)
    if where.since is not None:
        query = query.where(AuditEvent.at >= where.since)
    if where.until is not None:
        query = query.where(AuditEvent.at <= where.until)
    if where.before_id is not None:
        query = query.where(AuditEvent.id < where.before_id)
    return session.scalars(query).all()
