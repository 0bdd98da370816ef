"""``/v1/models``: register versions, list models, show one with its versions and counts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from service.audit.service import Action, record
from service.context import Context
from service.errors import ErrorBody
from service.kernel.principal import Actor
from service.registry import service
from service.registry.schemas import (
    ModelDetail,
    ModelList,
    ModelNamePath,
    ModelRegistration,
    ModelVersionView,
)
from service.storage.database import unit_of_work

router = APIRouter(prefix="/v1/models", tags=["models"])


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorBody,
        "description": "Malformed JSON (the message gives the byte position) or a body that is not UTF-8.",
    },
    409: {
        "model": ErrorBody,
        "description": "This version is registered with different content; `errors` lists each field.",
    },
    422: {"model": ErrorBody, "description": "Invalid registration; `errors` names each field."},
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": ModelVersionView, "description": "Identical version already registered."},
        **_ERRORS,
    },
    summary="Register a model version",
)
def register_model(
    registration: ModelRegistration, actor: Actor, context: Context, response: Response
) -> ModelVersionView:
    """Register a new model, or a new version of a known model (201).

    Sending an identical version again changes nothing and answers 200; sending the same
    version with any difference answers 409 listing what differs. The newest registered
    version is the default for ingested records that name none.
    """
    with unit_of_work(context.sessions) as session:
        view, created = service.register(session, registration, context.clock())
        if created:
            target = ("model", f"{registration.name}@{registration.version}")
            after = view.model_dump(mode="json")
            record(session, actor, Action.MODEL_REGISTERED, target, context.clock(), after=after)
    if not created:
        response.status_code = status.HTTP_200_OK
    return view


@router.get("", summary="List models")
def list_models(context: Context) -> ModelList:
    """Every registered model with its versions, newest last."""
    with unit_of_work(context.sessions) as session:
        return service.list_models(session)


@router.get("/{name}", summary="Show a model", responses={404: {"description": "Unknown model."}})
def get_model(name: ModelNamePath, context: Context) -> ModelDetail:
    """A model's versions (with their schemas and provenance) and what has been ingested for it."""
    with unit_of_work(context.sessions) as session:
        return service.model_detail(session, name)
