"""SQL of API keys and of status-page sessions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from service.storage.trust_tables import ApiKey, UiSession


def add_key(session: Session, row: ApiKey) -> ApiKey:
    session.add(row)
    session.flush()
    return row


def key_by_prefix(session: Session, prefix: str) -> ApiKey | None:
    return session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).one_or_none()


def all_keys(session: Session, *, include_revoked: bool) -> Sequence[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return session.scalars(query).all()


def any_active_admin(session: Session) -> bool:
    query = select(ApiKey.id).where(ApiKey.role == "admin", ApiKey.revoked_at.is_(None)).limit(1)
    return session.scalars(query).first() is not None


def touch(session: Session, key_id: int, now: datetime) -> None:
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))
    session.flush()


def add_ui_session(session: Session, row: UiSession) -> None:
    session.add(row)
    session.flush()


def ui_session_by_hash(session: Session, token_hash: str) -> tuple[UiSession, ApiKey | None] | None:
    """The session with this token hash and the stored key that signed it in (None for the
    environment's admin key)."""
    query = (
        select(UiSession, ApiKey)
        .outerjoin(ApiKey, ApiKey.id == UiSession.key_id)
        .where(UiSession.token_hash == token_hash)
    )
    found = session.execute(query).one_or_none()
    return None if found is None else (found[0], found[1])


def touch_ui_session(session: Session, session_id: int, now: datetime) -> None:
    session.execute(update(UiSession).where(UiSession.id == session_id).values(last_seen_at=now))
    session.flush()


def end_ui_session(session: Session, token_hash: str, now: datetime) -> None:
    query = update(UiSession).where(UiSession.token_hash == token_hash, UiSession.ended_at.is_(None))
    session.execute(query.values(ended_at=now))
    session.flush()


def purge_ui_sessions(session: Session, *, now: datetime, idle_since: datetime) -> int:
    """Delete sessions past their end, idle since before ``idle_since``, or ended."""
    ended = or_(
        UiSession.expires_at <= now, UiSession.last_seen_at < idle_since, UiSession.ended_at.is_not(None)
    )
    result = session.execute(delete(UiSession).where(ended))
    return int(getattr(result, "rowcount", 0) or 0)
