"""``/healthz`` (the process answers) and ``/readyz`` (the database answers, schema at head)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from service.context import AppContext, Context
from service.storage.migrations import current_revision, head_revision
from service.web import JsonResponse

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    summary="Liveness",
    responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
)
async def healthz() -> dict[str, str]:
    """The process is alive. Never touches the database, so a database outage does not restart pods."""
    return {"status": "ok"}


def _readiness(context: AppContext) -> tuple[int, dict[str, Any]]:
    try:
        with context.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current = current_revision(context.engine)
    except SQLAlchemyError as error:
        return 503, {"status": "unavailable", "database": f"unreachable: {type(error).__name__}"}
    head = head_revision()
    if current != head:
        return 503, {
            "status": "unavailable",
            "database": "ok",
            "schema": f"at {current}, expected {head}: run `modelmon migrate`",
        }
    return 200, {"status": "ready", "database": "ok", "schema": current}


@router.get(
    "/readyz",
    summary="Readiness",
    responses={
        200: {
            "content": {
                "application/json": {"example": {"status": "ready", "database": "ok", "schema": "0001"}}
            }
        },
        503: {"description": "Database unreachable or schema not at head."},
    },
)
async def readyz(context: Context) -> JsonResponse:
    """Ready to serve: the database answers and its schema is at the newest migration."""
    status, body = await run_in_threadpool(_readiness, context)
    return JsonResponse(body, status_code=status)
