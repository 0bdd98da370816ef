"""SQL of the audit log: append and page through it; there is no update or delete."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.storage.trust_tables import AuditEvent


def append(session: Session, event: AuditEvent) -> AuditEvent:
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True, slots=True)
class AuditFilter:
    action: str | None = None
    actor: str | None = None
    target_type: str | None = None
    target: str | None = None
    since: datetime | None = None
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
    if where.before_id is not None:
        query = query.where(AuditEvent.id < where.before_id)
    return session.scalars(query).all()
