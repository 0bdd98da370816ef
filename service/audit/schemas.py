"""Audit log bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from service.storage.trust_tables import AuditEvent

_EVENT_EXAMPLE: JsonDict = {
    "id": 42,
    "at": "2026-11-22T12:00:00Z",
    "actor": "key:mmk_Ab3dEf9h",
    "actor_name": "ml-platform admin",
    "action": "monitor.changed",
    "target_type": "model",
    "target": "credit-scoring",
    "before": {"drift": {"threshold": 0.1}},
    "after": {"drift": {"threshold": 0.2}},
}


class AuditEventView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_EVENT_EXAMPLE]})

    id: int
    at: datetime
    actor: str = Field(
        description="The acting key by its public prefix (`key:mmk_…`), `env:MODELMON_ADMIN_KEY`, "
        "`cli:<user>` for `modelmon keys`, or `system`."
    )
    actor_name: str = Field(description="The key's name when the event was written.")
    action: str
    target_type: str
    target: str
    before: Any = Field(None, description="The state before the change (null for creations and actions).")
    after: Any = Field(None, description="The state after the change (null for deletions).")

    @classmethod
    def of(cls, row: AuditEvent) -> AuditEventView:
        return cls(
            id=row.id,
            at=row.at,
            actor=row.actor,
            actor_name=row.actor_name,
            action=row.action,
            target_type=row.target_type,
            target=row.target,
            before=row.before,
            after=row.after,
        )


class AuditPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"events": [_EVENT_EXAMPLE], "next_before": None}]}
    )

    events: list[AuditEventView]
    next_before: int | None = Field(
        description="Pass as `before` for the next (older) page; null on the last page."
    )
