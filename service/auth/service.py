"""Creating, listing and revoking keys, and telling which principal a presented key is."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from service.audit.service import Action, record
from service.auth import repository
from service.auth.keys import generate_key, hash_key, prefix_of, same_secret
from service.clock import Clock
from service.errors import Conflict, FieldError, Invalid, NotFound
from service.kernel.principal import ENV_ADMIN, Principal, Role
from service.storage.database import unit_of_work
from service.storage.trust_tables import ApiKey

# last_used_at is written at most this often per key: a write on every ingestion request
# would double the statements of the hot path for a figure read by humans.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def key_summary(row: ApiKey) -> dict[str, object]:
    """What the audit log and listings show of a key (never its hash)."""
    return {"prefix": row.prefix, "name": row.name, "role": row.role, "models": row.models}


def create_key(
    session: Session, actor: Principal, *, role: Role, name: str, models: Sequence[str] | None, now: datetime
) -> tuple[ApiKey, str]:
    """A new key, recorded in the audit log; returns the row and the key (shown once)."""
    if role is Role.INGEST and not models:
        raise Invalid("an ingest key is scoped to models", [FieldError(None, "models", "name at least one")])
    if role is not Role.INGEST and models:
        raise Invalid(
            "only ingest keys are scoped to models",
            [FieldError(None, "models", f"a {role.value} key reaches every model; leave models out")],
        )
    new = generate_key()
    row = repository.add_key(
        session,
        ApiKey(
            prefix=new.prefix,
            key_hash=new.key_hash,
            name=name,
            role=role.value,
            models=sorted(set(models)) if models else None,
            created_at=now,
            created_by=actor.actor,
        ),
    )
    record(session, actor, Action.KEY_CREATED, ("key", row.prefix), now, after=key_summary(row))
    return row, new.key


def revoke_key(session: Session, actor: Principal, prefix: str, now: datetime) -> ApiKey:
    row = repository.key_by_prefix(session, prefix)
    if row is None:
        raise NotFound(f"no API key with prefix {prefix!r}", [FieldError(None, "prefix", "unknown key")])
    if row.revoked_at is not None:
        raise Conflict(f"key {prefix} was already revoked at {row.revoked_at.isoformat()}")
    row.revoked_at = now
    session.flush()
    record(session, actor, Action.KEY_REVOKED, ("key", row.prefix), now, before=key_summary(row))
    return row


@dataclass(frozen=True, slots=True)
class Verdict:
    """The principal a key stands for, or why it is refused (``problem``)."""

    principal: Principal | None
    problem: str = ""


def _principal_of(row: ApiKey) -> Principal:
    models = None if row.models is None else frozenset(row.models)
    return Principal(f"key:{row.prefix}", row.name, Role(row.role), models, row.id)


class Authenticator:
    """Tells which principal a key is, with a short cache so a request costs no query.

    A revocation reaches this process at once (``forget``) and other replicas within
    ``cache_seconds`` (5 s).
    """

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, admin_key: str | None) -> None:
        self._sessions = sessions
        self._clock = clock
        self._admin_key = admin_key
        self._cache: dict[str, tuple[float, Verdict]] = {}
        self._lock = threading.Lock()
        self.cache_seconds = 5.0

    def known_verdict(self, key: str) -> Verdict | None:
        """The verdict when it needs no database read (the environment's key, a malformed
        key, a cached verdict), else None. Cheap enough for the event loop."""
        if self._admin_key is not None and same_secret(key, self._admin_key):
            return Verdict(Principal(ENV_ADMIN, "MODELMON_ADMIN_KEY", Role.ADMIN))
        if prefix_of(key) is None:
            return Verdict(None, "the key is malformed: modelmon keys are mmk_ and 40 letters and digits")
        with self._lock:
            cached = self._cache.get(hash_key(key))
        if cached is not None and time.monotonic() - cached[0] < self.cache_seconds:
            return cached[1]
        return None

    def verdict(self, key: str) -> Verdict:
        """The verdict, reading the key's row when it is not known (blocking: call from a thread)."""
        known = self.known_verdict(key)
        if known is not None:
            return known
        prefix = prefix_of(key)
        assert prefix is not None
        digest = hash_key(key)
        verdict = self._look_up(prefix, key)
        with self._lock:
            if len(self._cache) > 10_000:  # unknown keys must not grow it without bound
                self._cache.clear()
            self._cache[digest] = (time.monotonic(), verdict)
        return verdict

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()

    def _look_up(self, prefix: str, key: str) -> Verdict:
        now = self._clock()
        with unit_of_work(self._sessions) as session:
            row = repository.key_by_prefix(session, prefix)
            if row is None or not same_secret(hash_key(key), row.key_hash):
                return Verdict(None, f"unknown API key {prefix}…")
            if row.revoked_at is not None:
                return Verdict(None, f"API key {prefix}… was revoked at {row.revoked_at.isoformat()}")
            if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
                repository.touch(session, row.id, now)
            return Verdict(_principal_of(row))
