"""Status-page sessions: signing in exchanges an API key for a random token, and the browser
keeps only that token.

The token is ``secrets.token_urlsafe(32)`` (256 bits); the table keeps its SHA-256, so a copy
of the database signs no one in. A session ends ``idle`` after the last page view (8 h by
default), ``absolute`` after sign-in (24 h), at sign-out, when its key is revoked, or when
``MODELMON_ADMIN_KEY`` changes for a session made with that key.

A session carries only the ``read`` permission, whatever the key's role: the pages only read,
and a cookie that leaks (a shared screen, a proxy log) then gives at most a day of reading
aggregates — never a key, never a change, never raw records (docs/security.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from service.auth import repository
from service.auth.keys import hash_key, same_secret
from service.clock import Clock
from service.kernel.principal import Principal, Role
from service.storage.database import unit_of_work
from service.storage.trust_tables import ApiKey, UiSession

SESSION_COOKIE = "modelmon_session"
TOKEN_BYTES = 32
# last_seen_at is written at most once a minute per session: idle expiry counts in hours.
TOUCH_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta


def csrf_token(token: str) -> str:
    """The token that a signed-in page's forms carry: hex HMAC-SHA256 keyed by the session
    token. A page of another site can neither read it nor compute it (the session cookie is
    HttpOnly), and it tells nothing of the session token."""
    return hmac.new(token.encode(), b"modelmon /ui form", hashlib.sha256).hexdigest()


def _principal(row: UiSession) -> Principal:
    return Principal(row.actor, f"{row.actor_name} (status page)", Role.READ, None, row.key_id)


class SessionStore:
    """Starts, checks and ends sessions; every method reads or writes the database
    (call from a thread)."""

    def __init__(
        self, sessions: sessionmaker[Session], clock: Clock, policy: SessionPolicy, admin_key: str | None
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.policy = policy
        self._admin_key_hash = None if admin_key is None else hash_key(admin_key)

    def start(self, principal: Principal, key: str) -> str:
        """A new session for the key's principal; returns its token (for the cookie only).
        Sessions past their end are deleted on the way, so the table holds only live ones."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self._clock()
        row = UiSession(
            token_hash=hash_key(token),
            key_id=principal.key_id,
            key_hash=hash_key(key),
            actor=principal.actor,
            actor_name=principal.name,
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.policy.absolute,
        )
        with unit_of_work(self._sessions) as session:
            repository.purge_ui_sessions(session, now=now, idle_since=now - self.policy.idle)
            repository.add_ui_session(session, row)
        return token

    def principal(self, token: str) -> Principal | None:
        """The read-only principal of a live session, else None."""
        now = self._clock()
        with unit_of_work(self._sessions) as session:
            found = repository.ui_session_by_hash(session, hash_key(token))
            if found is None or not self._alive(*found, now):
                return None
            row = found[0]
            if now - row.last_seen_at >= TOUCH_RESOLUTION:
                repository.touch_ui_session(session, row.id, now)
            return _principal(row)

    def end(self, token: str) -> None:
        with unit_of_work(self._sessions) as session:
            repository.end_ui_session(session, hash_key(token), self._clock())

    def _alive(self, row: UiSession, key: ApiKey | None, now: datetime) -> bool:
        if row.ended_at is not None or now >= row.expires_at or now - row.last_seen_at >= self.policy.idle:
            return False
        if row.key_id is not None:
            return key is not None and key.revoked_at is None
        return self._admin_key_hash is not None and same_secret(row.key_hash, self._admin_key_hash)
