"""Alerts, silences and retraining requests over HTTP."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from service.alerting import queries, repository
from service.alerting.notify import Names
from service.alerting.schemas import (
    Acknowledge,
    AlertDetail,
    AlertFamily,
    AlertPage,
    AlertView,
    RetrainRequestView,
    SilenceCreate,
    SilenceView,
)
from service.alerting.states import AlertState
from service.audit.service import Action, record
from service.context import Context
from service.errors import ErrorBody
from service.kernel.principal import Actor
from service.monitors.policy import Severity
from service.registry.schemas import NAME_PATTERN
from service.registry.service import load_model
from service.storage.database import unit_of_work

router = APIRouter(prefix="/v1", tags=["alerts"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Malformed JSON (the message gives the byte position)."},
    404: {"model": ErrorBody, "description": "Unknown alert, silence or model."},
    422: {"model": ErrorBody, "description": "Invalid parameters; `errors` names each field."},
}
Id = Annotated[int, Path(ge=1, le=2**62)]
ModelName = Annotated[str | None, Query(pattern=NAME_PATTERN, examples=["credit-scoring"])]


@router.get("/alerts", summary="List alerts", responses=_ERRORS)
def list_alerts(
    context: Context,
    state: AlertState | None = None,
    model: ModelName = None,
    severity: Severity | None = None,
    family: AlertFamily | None = None,
    before: Annotated[
        int | None, Query(ge=1, le=2**62, description="Only alerts with a smaller id (paging).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AlertPage:
    """Alerts, newest first, filtered by state, model, severity and family."""
    with unit_of_work(context.sessions) as session:
        model_id = None if model is None else load_model(session, model).model_id
        where = repository.AlertFilter(
            state=None if state is None else state.value,
            model_id=model_id,
            severity=None if severity is None else severity.value,
            family=None if family is None else family.value,
            before_id=before,
            limit=limit,
        )
        return queries.list_alerts(session, where)


@router.get("/alerts/{alert_id}", summary="An alert with its transitions and history", responses=_ERRORS)
def get_alert(alert_id: Id, context: Context) -> AlertDetail:
    """The alert, every state change it went through (silenced ones included), and its
    figure in each window up to its resolution (newest first)."""
    with unit_of_work(context.sessions) as session:
        return queries.alert_detail(session, alert_id, context.clock())


@router.post(
    "/alerts/{alert_id}/acknowledge",
    summary="Acknowledge an alert",
    responses={**_ERRORS, 409: {"model": ErrorBody, "description": "The alert is resolved."}},
)
def acknowledge(alert_id: Id, body: Acknowledge, actor: Actor, context: Context) -> AlertView:
    """Record who is handling an open alert. It keeps firing and notifying on changes; to mute
    notifications, create a silence."""
    with unit_of_work(context.sessions) as session:
        view = queries.acknowledge(session, alert_id, body, context.clock())
        after = body.model_dump(mode="json")
        target = ("alert", str(alert_id))
        record(session, actor, Action.ALERT_ACKNOWLEDGED, target, context.clock(), after=after)
        return view


@router.post("/silences", summary="Create a silence", status_code=201, responses=_ERRORS)
def create_silence(body: SilenceCreate, actor: Actor, context: Context, response: Response) -> SilenceView:
    """Mute notifications (webhooks, Alertmanager) of alerts whose labels match every matcher.
    A silenced alert still changes state and is recorded. The `X-Modelmon-Muted-Alerts`
    header says how many open alerts it mutes now."""
    with unit_of_work(context.sessions) as session:
        view, muted = queries.create_silence(session, body, context.clock())
        after = view.model_dump(mode="json")
        target = ("silence", str(view.id))
        record(session, actor, Action.SILENCE_CREATED, target, context.clock(), after=after)
    response.headers["X-Modelmon-Muted-Alerts"] = str(muted)
    return view


@router.get("/silences", summary="List silences", responses=_ERRORS)
def list_silences(
    context: Context, state: Annotated[str, Query(pattern="^(active|expired|all)$")] = "active"
) -> list[SilenceView]:
    now = context.clock()
    with unit_of_work(context.sessions) as session:
        return [queries.silence_view(s, now) for s in repository.list_silences(session, state, now)]


@router.get("/silences/{silence_id}", summary="A silence", responses=_ERRORS)
def get_silence(silence_id: Id, context: Context) -> SilenceView:
    with unit_of_work(context.sessions) as session:
        return queries.get_silence(session, silence_id, context.clock())


@router.delete("/silences/{silence_id}", summary="Expire a silence", responses=_ERRORS)
def expire_silence(silence_id: Id, actor: Actor, context: Context) -> SilenceView:
    """End the silence now. Its record stays; alerts it muted notify from the next alerting pass."""
    with unit_of_work(context.sessions) as session:
        before = queries.get_silence(session, silence_id, context.clock()).model_dump(mode="json")
        view = queries.expire_silence(session, silence_id, context.clock())
        target = ("silence", str(silence_id))
        after = view.model_dump(mode="json")
        record(session, actor, Action.SILENCE_EXPIRED, target, context.clock(), before=before, after=after)
        return view


@router.get("/retrain-requests", summary="List retraining requests", responses=_ERRORS)
def list_retrain_requests(
    context: Context, model: ModelName = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[RetrainRequestView]:
    """Retraining requests with their evidence bundles, newest first."""
    with unit_of_work(context.sessions) as session:
        model_id = None if model is None else load_model(session, model).model_id
        names = Names(session)
        return [
            queries.request_view(names, row) for row in repository.retrain_requests(session, model_id, limit)
        ]
