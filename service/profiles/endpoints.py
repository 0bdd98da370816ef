"""``GET /v1/models/{name}/layout`` and ``POST /v1/models/{name}/profiles``.

A job that computes profiles where the data lives (``modelmon spark-backfill``) fetches the
active layout, builds one profile per bucket with the server's own ``build_profile`` and posts
them. Each request is one transaction; bodies are bounded by the ingestion byte limit (413).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from service.context import AppContext, Context
from service.errors import ErrorBody
from service.profiles import service
from service.profiles.schemas import ActiveLayout, ProfileUpload, UploadResult
from service.registry.schemas import ModelNamePath
from service.registry.service import load_model
from service.storage.database import unit_of_work
from service.windows.jobs import AggregationJob
from service.windows.ondemand import Folding, fold_model_now

router = APIRouter(prefix="/v1/models/{name}", tags=["profiles"])

_NOT_FOUND = {"model": ErrorBody, "description": "Unknown model or version."}
_NO_LAYOUT = "The version has no layout yet (upload a reference first)."


@router.get(
    "/layout",
    responses={
        404: _NOT_FOUND,
        409: {"model": ErrorBody, "description": _NO_LAYOUT},
        503: {"model": ErrorBody, "description": "A worker folding the model held it too long."},
    },
    summary="The active layout of a version",
)
def get_layout(
    name: ModelNamePath,
    context: Context,
    version: Annotated[str | None, Query(max_length=100, description="default: the newest")] = None,
) -> ActiveLayout:
    """The bins a version's profiles are built on, its id and hash, and the bucket length:
    enough for a remote job to build bucket profiles identical to the server's.

    A version with a reference but no layout yet is fitted now: workers fit layouts in a
    model's aggregation pass, which only runs once the model has events, and a model fed by
    uploads alone may have none."""
    with unit_of_work(context.sessions) as session:
        model = load_model(session, name)
        if service.has_layout(session, model, version):
            return service.layout_view(session, model, version)
    jobs = AggregationJob(context.sessions, context.settings, context.clock)
    high_water = jobs.high_water_for_request()  # its own short transaction: it holds writers back
    with unit_of_work(context.sessions) as session:
        model = load_model(session, name)
        fold_model_now(session, model.model_id, context.clock(), Folding(high_water, jobs.limits()))
        return service.layout_view(session, model, version)


_UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    404: _NOT_FOUND,
    409: {
        "model": ErrorBody,
        "description": "Layout changed (fetch it again), no layout yet, or a bucket this source "
        "already sent with a different profile; nothing was stored.",
    },
    413: {"model": ErrorBody, "description": "Body over the ingestion byte limit."},
    422: {"model": ErrorBody, "description": "Invalid profiles: `errors` lists {index, field, message}."},
    503: {"model": ErrorBody, "description": "A worker folding the model held it over 10 s; retry."},
}


def _store(context: AppContext, name: str, upload: ProfileUpload) -> UploadResult:
    settings, now = context.settings, context.clock()
    bounds = service.Bounds.around(
        now, horizon_days=settings.horizon_days, skew_seconds=settings.max_future_skew_seconds
    )
    with unit_of_work(context.sessions) as session:
        return service.store_upload(session, load_model(session, name), upload, now=now, bounds=bounds)


@router.post("/profiles", responses=_UPLOAD_ERRORS, summary="Upload bucket profiles")
async def upload_profiles(name: ModelNamePath, upload: ProfileUpload, context: Context) -> UploadResult:
    """Merge bucket profiles built elsewhere into the version's windows, as if their rows had
    been ingested; the windows holding them are evaluated again.

    Idempotent per (layout, bucket, source): the same profile again is a duplicate; a
    different one for a stored (bucket, source) is a 409 naming the bucket. Profiles of an
    older layout are refused (409 "layout changed").
    """
    return await run_in_threadpool(_store, context, name, upload)
