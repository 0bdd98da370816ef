"""``GET /v1/audit``: the audit log, for admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from service.audit import repository
from service.audit.schemas import AuditEventView, AuditPage
from service.audit.service import Action
from service.context import Context
from service.errors import ErrorBody
from service.ranges import utc_parameter
from service.storage.database import unit_of_work

router = APIRouter(prefix="/v1", tags=["audit"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorBody, "description": "Invalid parameters; `errors` names each field."},
}


@router.get("/audit", summary="The audit log (admin)", responses=_ERRORS)
def audit_log(
    context: Context,
    action: Action | None = None,
    actor: Annotated[str | None, Query(max_length=200, examples=["key:mmk_Ab3dEf9h"])] = None,
    target_type: Annotated[str | None, Query(max_length=32, examples=["model"])] = None,
    target: Annotated[str | None, Query(max_length=512)] = None,
    since: datetime | None = None,
    before: Annotated[int | None, Query(ge=1, le=2**62, description="Only events with a smaller id.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    """Every configuration change and human action, newest first, with the acting key, the
    time, and the state before and after."""
    since = None if since is None else utc_parameter("since", since)
    where = repository.AuditFilter(
        action=None if action is None else action.value,
        actor=actor,
        target_type=target_type,
        target=target,
        since=since,
        before_id=before,
        limit=limit,
    )
    with unit_of_work(context.sessions) as session:
        rows = repository.page(session, where)
        events = [AuditEventView.of(row) for row in rows]
    next_before = events[-1].id if len(events) == limit else None
    return AuditPage(events=events, next_before=next_before)
