"""``GET /v1/models/{name}/export``: a window's predictions with their outcomes, streamed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from service.context import Context
from service.datasets import service
from service.datasets.schemas import MAX_EXPORT_RANGE, MEDIA_TYPES, ExportFormat, ExportRequest
from service.errors import ErrorBody
from service.ranges import checked_range
from service.registry.schemas import VERSION_PATTERN, ModelNamePath
from service.storage.database import unit_of_work

router = APIRouter(prefix="/v1/models", tags=["datasets"])

_NDJSON_EXAMPLE = (
    '{"prediction_id":"p6","version":"v1","event_time":"2026-11-01T00:06:00+00:00",'
    '"features":{"income":52.5,"purpose":"car"},"prediction":"1","score":0.81,"scores":null,'
    '"attributes":{"sex":"F"},"label":"1","outcome_time":"2026-11-11T00:06:00+00:00"}\n'
)
_CSV_EXAMPLE = (
    "prediction_id,version,event_time,feature.income,feature.purpose,prediction,score,attribute.sex,"
    "label,outcome_time\r\n"
    "p6,v1,2026-11-01T00:06:00+00:00,52.5,car,1,0.81,F,1,2026-11-11T00:06:00+00:00\r\n"
)
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The rows, streamed: one JSON object per line (NDJSON) or CSV with a header.",
        "content": {
            "application/x-ndjson": {"schema": {"type": "string"}, "example": _NDJSON_EXAMPLE},
            "text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE},
        },
    },
    404: {"model": ErrorBody, "description": "Unknown model."},
    422: {"model": ErrorBody, "description": "Invalid parameters; `errors` names each one."},
}


@router.get(
    "/{name}/export",
    summary="Export a window's predictions and outcomes",
    response_class=StreamingResponse,
    responses=_RESPONSES,
)
def export(
    name: ModelNamePath,
    context: Context,
    from_: Annotated[
        datetime, Query(alias="from", description="Predictions with event_time at or after this.")
    ],
    to: Annotated[datetime, Query(description="Predictions with event_time before this.")],
    format: Annotated[ExportFormat, Query()] = ExportFormat.NDJSON,
    version: Annotated[
        str | None, Query(pattern=VERSION_PATTERN, description="Default: every version.")
    ] = None,
    labelled: Annotated[bool, Query(description="Only predictions with an outcome (default).")] = True,
    limit: Annotated[int | None, Query(ge=1, le=2**62, description="Most rows. Default: all.")] = None,
) -> StreamingResponse:
    """The model's predictions with `event_time` in [from, to), in id order, each joined with
    its outcome (`label`, `outcome_time`). NDJSON: one object per line; CSV: nested fields
    flattened as `feature.<name>`, `attribute.<name>`, `scores.<class>`. The server holds one
    page of 5,000 rows at a time, whatever the window's size."""
    start, end = checked_range(from_, to, MAX_EXPORT_RANGE)
    request = ExportRequest(start, end, format, version, labelled, limit)
    with unit_of_work(context.sessions) as session:
        plan = service.plan_export(session, name, request)
    disposition = f'attachment; filename="{service.filename(plan)}"'
    return StreamingResponse(
        service.stream(context.sessions, plan),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": disposition},
    )
