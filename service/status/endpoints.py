"""``/v1/models/{name}/monitor``: read and change how a model is monitored."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from service.audit.service import Action, record
from service.context import Context
from service.errors import ErrorBody
from service.failures import queries as failures
from service.kernel.principal import Actor
from service.monitors import service as monitors
from service.monitors.schemas import MonitorConfig, MonitorView
from service.registry.schemas import ModelNamePath
from service.registry.service import load_model
from service.status import service
from service.storage.database import unit_of_work

router = APIRouter(prefix="/v1/models", tags=["monitoring"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Malformed JSON (the message gives the byte position)."},
    404: {"model": ErrorBody, "description": "Unknown model."},
    422: {"model": ErrorBody, "description": "Invalid configuration; `errors` names each field."},
}


@router.get("/{name}/monitor", summary="Show a model's monitor configuration", responses=_ERRORS)
def get_monitor(name: ModelNamePath, context: Context) -> MonitorView:
    """The configuration in force (the defaults until one is saved) and where the jobs stand."""
    with unit_of_work(context.sessions) as session:
        model = load_model(session, name)
        return service.view(session, model, context.clock())


@router.put("/{name}/monitor", summary="Configure how a model is monitored", responses=_ERRORS)
def put_monitor(name: ModelNamePath, config: MonitorConfig, actor: Actor, context: Context) -> MonitorView:
    """Replace the configuration; omitted fields take their defaults.

    Changes to the windows and thresholds apply from the next evaluation; a change to the
    bucket, the reference or the intersections refits the bins and re-aggregates the
    model's events. Try thresholds first with `POST …/monitor/backtest`.
    """
    with unit_of_work(context.sessions) as session:
        model = load_model(session, name)
        now = context.clock()
        before = monitors.stored_document(session, model.model_id)
        monitors.save(session, model, config, now)
        after = service.view(session, model, now)
        target = ("model", model.name)
        after_config = after.config.model_dump(mode="json")
        record(session, actor, Action.MONITOR_CHANGED, target, now, before=before, after=after_config)
        return after


@router.post("/{name}/monitor/retry", summary="Retry the model's failed work now", responses=_ERRORS)
def retry_monitor(name: ModelNamePath, actor: Actor, context: Context) -> MonitorView:
    """Make every failed unit of the model's work (listed in `status.failures`) due now instead of
    at its backoff time: after fixing or erasing the data that made it fail, the next round of
    the jobs retries it. A unit that succeeds leaves the list."""
    with unit_of_work(context.sessions) as session:
        model = load_model(session, name)
        now = context.clock()
        retried = failures.retry_now(session, model.model_id, now)
        record(session, actor, Action.MONITOR_RETRIED, ("model", model.name), now, after={"units": retried})
        return service.view(session, model, now)
