"""Sessions of the status page (``/ui``). Why they look as they do: docs/security.md.

Imported by ``tables.py`` so that ``Base.metadata`` holds every table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from service.storage.tables import Base
from service.storage.types import BigIntId, UtcDateTime


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
