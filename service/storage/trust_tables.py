"""Tables of trust: API keys, the audit log and browser sessions of the UI.
Why they look as they do: docs/schema.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.storage.base import Base
from service.storage.types import BigIntId, JsonDocument, UtcDateTime


class ApiKey(Base):
    """One API key. Only its SHA-256 is stored; ``prefix`` (public) finds the row.

    ``models`` is the list of model names an ``ingest`` key may write to (null for the other roles).
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    models: Mapped[list[str] | None] = mapped_column(JsonDocument, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class AuditEvent(Base):
    """One change of configuration or human action. Append-only: a trigger on both databases
    refuses UPDATE and DELETE (migration 0004), the service's role may not UPDATE, DELETE,
    TRUNCATE or ALTER it (docs/security.md), and ``chain_hash`` links each row to the one
    before (service/audit/chain.py; migration 0008)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_target", "target_type", "target"),
        Index("ix_audit_events_actor", "actor"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    # "key:<prefix>", "env:MODELMON_ADMIN_KEY", "cli:<os user>" or "system"
    actor: Mapped[str] = mapped_column(String(200))
    actor_name: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(512))
    before: Mapped[Any] = mapped_column(JsonDocument, nullable=True)
    after: Mapped[Any] = mapped_column(JsonDocument, nullable=True)
    chain_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


class UiSession(Base):
    """One browser signed in to ``/ui``. Only the SHA-256 of its random token is stored, so
    a copy of this table signs no one in.

    ``key_hash`` is the SHA-256 of the key that signed in: a session made with
    ``MODELMON_ADMIN_KEY`` (``key_id`` null) ends when that variable changes; one made with a
    stored key ends when the key is revoked.
    """

    __tablename__ = "ui_sessions"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("api_keys.id"), nullable=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200))
    actor_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
