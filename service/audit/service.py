"""Recording audit events, inside the transaction of the change they describe.

Writing the event in the same transaction as the change means neither exists without the
other: a rolled-back change leaves no event, and a committed one always has its event.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from service.audit import repository
from service.kernel.principal import Principal
from service.storage.trust_tables import AuditEvent


class Action(StrEnum):
    MODEL_REGISTERED = "model.registered"  # a model's first version or a new version
    REFERENCE_UPLOADED = "reference.uploaded"
    MONITOR_CHANGED = "monitor.changed"
    MONITOR_RETRIED = "monitor.retried"
    WEBHOOK_CREATED = "webhook.created"
    WEBHOOK_CHANGED = "webhook.changed"
    WEBHOOK_SECRET_ROTATED = "webhook.secret_rotated"
    WEBHOOK_TESTED = "webhook.tested"
    WEBHOOK_REDELIVERED = "webhook.redelivered"
    KEY_CREATED = "key.created"
    KEY_REVOKED = "key.revoked"
    ALERT_ACKNOWLEDGED = "alert.acknowledged"
    INCIDENT_ACKNOWLEDGED = "incident.acknowledged"
    SILENCE_CREATED = "silence.created"
    SILENCE_EXPIRED = "silence.expired"
    SUBJECT_ERASED = "subject.erased"


def record(
    session: Session,
    actor: Principal,
    action: Action,
    target: tuple[str, str],
    now: datetime,
    *,
    before: Any = None,
    after: Any = None,
) -> AuditEvent:
    """Append one event; ``target`` is (type, identifier), e.g. ("model", "credit-scoring")."""
    target_type, target_id = target
    return repository.append(
        session,
        AuditEvent(
            at=now,
            actor=actor.actor,
            actor_name=actor.name,
            action=action.value,
            target_type=target_type,
            target=target_id[:512],
            before=before,
            after=after,
        ),
    )
