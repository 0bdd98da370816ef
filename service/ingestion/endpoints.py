"""``/v1/models/{name}/predictions``, ``/outcomes`` and ``/reference``.

Each request is one transaction: every record is validated before anything is written, and
a 200 is sent only after the commit. Bodies are read here (not by FastAPI's body parsing)
to enforce the byte limit while streaming and to accept NDJSON; they are parsed (in pieces,
``pieces.py``) and validated in a worker thread, so the event loop keeps answering.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from service.audit.service import Action, record
from service.context import AppContext, Context
from service.edge.collector import collection_deferred, release_in_pieces
from service.errors import ErrorBody, FieldError, Invalid
from service.ingestion import columnar, service
from service.ingestion.body import check_batch_size, media_type, parse_records, read_limited_body
from service.ingestion.records import (
    PredictionRecord,
    outcome_record,
    prediction_record,
    reference_record,
    validate_all,
)
from service.ingestion.schemas import (
    OUTCOME_COLUMNS_DOC,
    PREDICTION_COLUMNS_DOC,
    IngestResult,
    OutcomeBatch,
    OutcomeIn,
    OutcomeResult,
    PredictionBatch,
    PredictionIn,
    ReferenceResult,
    ReferenceRowIn,
    ReferenceUpload,
    request_body_doc,
)
from service.ingestion.validation import EventTimes, event_times, shown
from service.kernel.instruments import counting_refusals, record_label_delays, record_stored_batch
from service.kernel.principal import Actor, Principal
from service.privacy.pseudonym import settings_pseudonymiser
from service.registry.schemas import ModelNamePath
from service.registry.service import RegisteredModel, load_model
from service.storage.database import unit_of_work

router = APIRouter(prefix="/v1/models/{name}", tags=["ingestion"])


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorBody,
        "description": "Malformed JSON (the message gives line, column and byte), or a Parquet or Arrow "
        "body that cannot be read.",
    },
    404: {"model": ErrorBody, "description": "Unknown model."},
    409: {
        "model": ErrorBody,
        "description": "A record's id is stored with different content; nothing was stored.",
    },
    413: {"model": ErrorBody, "description": "Body over the byte limit."},
    422: {
        "model": ErrorBody,
        "description": "Invalid records: `errors` lists {index, field, message}; nothing was stored.",
    },
}


def _prediction_batch(
    context: AppContext, body: bytes, content_type: str
) -> tuple[list[Any], pa.Table | None]:
    """JSON records, or the columnar body's table (turned into records once the model is known)."""
    settings = context.settings
    if columnar.is_columnar(content_type):
        table = columnar.read_table(body, content_type, settings.max_batch_size, "predictions")
        return [], table
    records, _ = parse_records(
        body, content_type, "predictions", max_errors_listed=settings.max_errors_listed
    )
    return records, None


def _valid_predictions(
    context: AppContext,
    model: RegisteredModel,
    batch: tuple[list[Any], pa.Table | None],
    times: EventTimes,
    pseudonymise: Callable[[str], str],
) -> list[PredictionRecord]:
    """The batch's records, validated (422 listing the problems): a columnar table by whole
    columns when every value passes (``vectorised.py``), else record by record."""
    records, table = batch
    if table is not None:
        fast = columnar.fast_predictions(table, model, times, pseudonymise)
        if fast is not None:
            return fast
        records = columnar.prediction_records(table, model)
    return validate_all(
        records,
        lambda c, i, r: prediction_record(c, i, r, model, times, pseudonymise),
        context.settings.max_errors_listed,
    )


def _store_predictions(context: AppContext, name: str, body: bytes, content_type: str) -> IngestResult:
    settings = context.settings
    records, table = batch = _prediction_batch(context, body, content_type)
    size = len(records) if table is None else table.num_rows
    check_batch_size(range(size), "predictions", settings.max_batch_size)
    now = context.clock()
    times = event_times(
        now, skew_seconds=settings.max_future_skew_seconds, horizon_days=settings.horizon_days
    )
    delays: list[float] = []
    pseudonymise = settings_pseudonymiser(settings)
    with unit_of_work(context.sessions) as session:
        model = load_model(session, name)
        with counting_refusals(model.name, "prediction", size), columnar.flat_field_names(table is not None):
            valid = _valid_predictions(context, model, batch, times, pseudonymise)
            result = service.ingest_predictions(
                session, model, valid, now, delays, max_windows=settings.max_batch_windows
            )
    record_stored_batch(
        model.name, "prediction", accepted=result.accepted, duplicates=result.duplicates, size=size
    )
    release_in_pieces(valid, records)
    record_label_delays(model.name, delays)
    return result


@router.post(
    "/predictions",
    responses=_ERRORS,
    summary="Ingest predictions",
    openapi_extra=request_body_doc(PredictionBatch, PredictionIn, PREDICTION_COLUMNS_DOC),
)
async def ingest_predictions(name: ModelNamePath, request: Request, context: Context) -> IngestResult:
    """Store a batch of predictions atomically: all of it, or nothing and a list of every problem.

    `application/json` takes `{"predictions": [...]}`; `application/x-ndjson` takes one
    prediction per line; `application/vnd.apache.parquet` and `application/vnd.apache.arrow.stream`
    take one table with a row per prediction (flat columns, see the request body). A resent id
    with the same content counts as a duplicate.
    """
    body = await read_limited_body(request, context.settings.max_body_bytes)
    with collection_deferred():
        return await run_in_threadpool(_store_predictions, context, name, body, media_type(request))


def _store_outcomes(context: AppContext, name: str, body: bytes, content_type: str) -> OutcomeResult:
    settings = context.settings
    table = None
    if columnar.is_columnar(content_type):
        table = columnar.read_table(body, content_type, settings.max_batch_size, "outcomes")
        records: list[Any] = []
    else:
        records, _ = parse_records(
            body, content_type, "outcomes", max_errors_listed=settings.max_errors_listed
        )
    check_batch_size(records if table is None else range(table.num_rows), "outcomes", settings.max_batch_size)
    now = context.clock()
    times = event_times(
        now, skew_seconds=settings.max_future_skew_seconds, horizon_days=settings.horizon_days
    )
    delays: list[float] = []
    with unit_of_work(context.sessions) as session:
        model = load_model(session, name)
        size = len(records) if table is None else table.num_rows
        with counting_refusals(model.name, "outcome", size), columnar.flat_field_names(table is not None):
            if table is not None:
                records = columnar.outcome_records(table, model)
            valid = validate_all(
                records, lambda c, i, r: outcome_record(c, i, r, model, times), settings.max_errors_listed
            )
            result = service.ingest_outcomes(
                session, model, valid, now, delays, max_windows=settings.max_batch_windows
            )
    record_stored_batch(
        model.name, "outcome", accepted=result.accepted, duplicates=result.duplicates, size=len(records)
    )
    release_in_pieces(valid, records)
    record_label_delays(model.name, delays)
    return result


@router.post(
    "/outcomes",
    responses=_ERRORS,
    summary="Ingest outcomes (true labels)",
    openapi_extra=request_body_doc(OutcomeBatch, OutcomeIn, OUTCOME_COLUMNS_DOC),
)
async def ingest_outcomes(name: ModelNamePath, request: Request, context: Context) -> OutcomeResult:
    """Store true outcomes, joined to predictions by `prediction_id` whichever arrives first.

    An outcome whose prediction has not arrived is kept (`waiting`) and joins it when it does.
    JSON, NDJSON, Parquet or Arrow IPC stream (columns `prediction_id`, `label`, `timestamp`).
    """
    body = await read_limited_body(request, context.settings.max_body_bytes)
    with collection_deferred():
        return await run_in_threadpool(_store_outcomes, context, name, body, media_type(request))


@dataclass(frozen=True, slots=True)
class ReferenceQuery:
    version: str | None
    replace: bool


def _store_reference(
    context: AppContext, actor: Principal, name: str, body: bytes, content_type: str, query: ReferenceQuery
) -> ReferenceResult:
    records, extra = parse_records(
        body,
        content_type,
        "rows",
        frozenset({"version"}),
        max_errors_listed=context.settings.max_errors_listed,
    )
    version = extra.get("version", query.version)
    check_batch_size(records, "rows", context.settings.max_reference_rows)
    with unit_of_work(context.sessions) as session:
        model = load_model(session, name)
        spec = (
            model.latest
            if version is None
            else model.versions.get(version)
            if isinstance(version, str)
            else None
        )
        if spec is None:
            known = ", ".join(model.versions)
            raise Invalid(
                "unknown version",
                [FieldError(None, "version", f"{shown(version)} is not registered (known: {known})")],
            )
        valid = validate_all(
            records, lambda c, i, r: reference_record(c, i, r, spec), context.settings.max_errors_listed
        )
        result = service.store_reference(session, spec, valid, replace=query.replace, now=context.clock())
        target = ("model", f"{model.name}@{spec.version}")
        after = result.model_dump(mode="json")
        record(session, actor, Action.REFERENCE_UPLOADED, target, context.clock(), after=after)
        return result


@router.post(
    "/reference",
    responses=_ERRORS,
    summary="Upload the reference (baseline) rows of a version",
    openapi_extra=request_body_doc(ReferenceUpload, ReferenceRowIn),
)
async def upload_reference(
    name: ModelNamePath,
    request: Request,
    actor: Actor,
    context: Context,
    replace: Annotated[bool, Query(description="Replace the version's existing reference.")] = False,
    version: Annotated[
        str | None, Query(description="Version (NDJSON bodies); JSON may say it in the body.")
    ] = None,
) -> ReferenceResult:
    """Store the reference rows a version's windows are compared with (typically a sample of
    its validation set, with true labels). Uploading the same rows again changes nothing;
    a different reference replaces the current one only with `?replace=true`.
    """
    body = await read_limited_body(request, context.settings.max_reference_body_bytes)
    query = ReferenceQuery(version, replace)
    with collection_deferred():
        return await run_in_threadpool(
            _store_reference, context, actor, name, body, media_type(request), query
        )
