"""API keys over HTTP (admin): create (the key is shown once), list, revoke."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status

from service.auth import repository
from service.auth.guard import Gate
from service.auth.schemas import CreatedKey, KeyCreate, KeyList, KeyView
from service.auth.service import create_key, revoke_key
from service.context import Context
from service.errors import ErrorBody
from service.kernel.principal import Actor
from service.storage.database import unit_of_work

router = APIRouter(prefix="/v1/keys", tags=["keys"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Malformed JSON (the message gives the byte position)."},
    404: {"model": ErrorBody, "description": "Unknown key."},
    409: {"model": ErrorBody, "description": "The key is already revoked."},
    422: {"model": ErrorBody, "description": "Invalid body; `errors` names each field."},
}
Prefix = Annotated[str, Path(pattern=r"^mmk_[A-Za-z0-9]{8}$", examples=["mmk_Ab3dEf9h"])]


@router.post("", summary="Create an API key", status_code=status.HTTP_201_CREATED, responses=_ERRORS)
def create(body: KeyCreate, actor: Actor, context: Context) -> CreatedKey:
    """A new key with a role; `ingest` keys name the models they may write to. The answer
    holds the key itself, once."""
    with unit_of_work(context.sessions) as session:
        row, key = create_key(
            session, actor, role=body.role, name=body.name, models=body.models, now=context.clock()
        )
        return CreatedKey(**KeyView.of(row).model_dump(), key=key)


@router.get("", summary="List API keys")
def list_keys(context: Context, include_revoked: bool = False) -> KeyList:
    with unit_of_work(context.sessions) as session:
        rows = repository.all_keys(session, include_revoked=include_revoked)
        return KeyList(keys=[KeyView.of(row) for row in rows])


@router.delete("/{prefix}", summary="Revoke an API key", responses=_ERRORS)
def revoke(prefix: Prefix, actor: Actor, request: Request, context: Context) -> KeyView:
    """The key stops working at once on this replica and within 5 s on the others."""
    with unit_of_work(context.sessions) as session:
        view = KeyView.of(revoke_key(session, actor, prefix, context.clock()))
    gate: Gate = request.app.state.gate
    gate.authenticator.forget()
    return view
