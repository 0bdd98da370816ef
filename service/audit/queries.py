"""What other packages read of the audit log: the events about one target (a model's monitor
configuration history in the compliance report). Callers pass their own session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from service.audit import repository
from service.audit.schemas import AuditEventView


def events_about(
    session: Session, target: tuple[str, str], actions: Sequence[str], until: datetime, limit: int
) -> list[AuditEventView]:
    """The ``limit`` newest events of ``actions`` about ``target`` (type, identifier) recorded
    at or before ``until``, oldest first (one query per action)."""
    target_type, target_id = target
    found: list[AuditEventView] = []
    for action in actions:
        # The time bound is in the query: filtered after the limit, a page of events newer
        # than ``until`` would leave out the older ones asked for.
        where = repository.AuditFilter(
            action=action, target_type=target_type, target=target_id, until=until, limit=limit
        )
        found += [AuditEventView.of(row) for row in repository.page(session, where)]
    return sorted(found, key=lambda e: e.id)[-limit:]
