"""Incidents over HTTP: list, read with their alerts, acknowledge with a note."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from service.alerting import incident_queries as queries
from service.alerting import incident_repository as repository
from service.alerting.incident_rules import IncidentState
from service.alerting.incident_schemas import IncidentAcknowledge, IncidentDetail, IncidentPage
from service.audit.service import Action, record
from service.context import Context
from service.errors import ErrorBody
from service.kernel.principal import Actor
from service.registry.schemas import NAME_PATTERN
from service.registry.service import load_model
from service.storage.database import unit_of_work

router = APIRouter(prefix="/v1", tags=["alerts"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Malformed JSON (the message gives the byte position)."},
    404: {"model": ErrorBody, "description": "Unknown incident or model."},
    422: {"model": ErrorBody, "description": "Invalid parameters; `errors` names each field."},
}
Id = Annotated[int, Path(ge=1, le=2**62)]


@router.get("/incidents", summary="List incidents", responses=_ERRORS)
def list_incidents(
    context: Context,
    state: IncidentState | None = None,
    model: Annotated[str | None, Query(pattern=NAME_PATTERN, examples=["credit-scoring"])] = None,
    before: Annotated[
        int | None, Query(ge=1, le=2**62, description="Only incidents with a smaller id (paging).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> IncidentPage:
    """Incidents, newest first: firing alerts of one model grouped by cause over overlapping
    windows (docs/alerting.md, "Incidents"), with their ranked likely causes."""
    with unit_of_work(context.sessions) as session:
        model_id = None if model is None else load_model(session, model).model_id
        where = repository.IncidentFilter(
            state=None if state is None else state.value, model_id=model_id, before_id=before, limit=limit
        )
        return queries.list_incidents(session, where)


@router.get("/incidents/{incident_id}", summary="An incident with its alerts", responses=_ERRORS)
def get_incident(incident_id: Id, context: Context) -> IncidentDetail:
    with unit_of_work(context.sessions) as session:
        return queries.incident_detail(session, incident_id)


@router.post("/incidents/{incident_id}/acknowledge", summary="Acknowledge an incident", responses=_ERRORS)
def acknowledge(incident_id: Id, body: IncidentAcknowledge, actor: Actor, context: Context) -> IncidentDetail:
    """Record who handles the incident and what was done; every note is kept, in order, and
    recorded in the audit log (`incident.acknowledged`). Its alerts keep firing and notifying;
    to mute them, create a silence."""
    now = context.clock()
    with unit_of_work(context.sessions) as session:
        detail = queries.acknowledge(session, incident_id, body, now)
        target = ("incident", str(incident_id))
        record(session, actor, Action.INCIDENT_ACKNOWLEDGED, target, now, after=body.model_dump(mode="json"))
        return detail
