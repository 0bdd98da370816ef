"""``GET /v1/models/{name}/reports/drift`` (Evidently's HTML drift report of a time range) and
``GET /v1/models/{name}/card`` (the model card, JSON or Markdown)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from service.context import Context
from service.errors import ErrorBody
from service.ranges import checked_range
from service.registry.schemas import VERSION_PATTERN, ModelNamePath
from service.reports import compliance, compliance_html, drift, evidently_report, pdf
from service.reports.card import render_markdown
from service.reports.schemas import (
    DEFAULT_CARD_WINDOWS,
    DEFAULT_SAMPLE,
    MAX_CARD_WINDOWS,
    MAX_REPORT_RANGE,
    MAX_SAMPLE,
    CardFormat,
    DriftData,
    DriftRequest,
    ModelCard,
)
from service.reports.service import build_card
from service.storage.database import unit_of_work

router = APIRouter(prefix="/v1/models", tags=["reports"])

MARKDOWN = "text/markdown; charset=utf-8"
# The page inlines its script, styles and font: it needs nothing from any network, and a
# browser honouring this policy fetches nothing.
REPORT_CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    "font-src data:; img-src data: blob:"
)
_HTML_EXAMPLE = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8"><title>Data drift — credit-scoring '
    '2026-11-01</title>…</head><body><div id="modelmon-banner">… current: 5,000 of 183,112 rows '
    "sampled uniformly (seed 0); reference: all 20,000 rows</div>…</body></html>"
)
_MARKDOWN_EXAMPLE = (
    "# Model card: credit-scoring 2026-11-01\n\nGenerated 2026-11-22T12:00:00Z by modelmon 0.1.0.\n\n"
    "## Version\n\n|  |  |\n|---|---|\n| task | binary_classification |\n…"
)
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "Unknown model or version."},
    422: {"model": ErrorBody, "description": "Invalid parameters; `errors` names each one."},
}
_DRIFT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Evidently's data-drift report, one self-contained HTML page. Headers "
        "`X-Modelmon-Current-Rows` / `-Total` and `X-Modelmon-Reference-Rows` / `-Total` give the "
        "rows compared and the rows there were; `X-Modelmon-Sampling` says the same in words.",
        "content": {"text/html": {"schema": {"type": "string"}, "example": _HTML_EXAMPLE}},
    },
    **_ERRORS,
    503: {"model": ErrorBody, "description": "Another report is being rendered; retry after `Retry-After`."},
}


def _headers(data: DriftData, report: evidently_report.RenderedReport) -> dict[str, str]:
    return {
        "X-Modelmon-Current-Rows": str(len(data.current.rows)),
        "X-Modelmon-Current-Total": str(data.current.total),
        "X-Modelmon-Reference-Rows": str(len(data.reference.rows)),
        "X-Modelmon-Reference-Total": str(data.reference.total),
        "X-Modelmon-Sample-Seed": str(data.seed),
        "X-Modelmon-Sampling": evidently_report.banner_text(data),
        "X-Modelmon-Features-Left-Out": str(len(report.left_out)),
        "Content-Security-Policy": REPORT_CSP,
        "Cache-Control": "no-store",
    }


@router.get(
    "/{name}/reports/drift",
    summary="Evidently data-drift report of a time range",
    # Starlette's plain Response has no media type, so FastAPI documents the errors as the
    # JSON they are; the 200 is documented as text/html in _DRIFT_RESPONSES.
    response_class=Response,
    responses=_DRIFT_RESPONSES,
)
async def drift_report(
    name: ModelNamePath,
    context: Context,
    from_: Annotated[
        datetime, Query(alias="from", description="Predictions with event_time at or after this.")
    ],
    to: Annotated[datetime, Query(description="Predictions with event_time before this.")],
    version: Annotated[str | None, Query(pattern=VERSION_PATTERN, description="Default: the newest.")] = None,
    sample: Annotated[
        int, Query(ge=100, le=MAX_SAMPLE, description="Most rows per side; more are sampled uniformly.")
    ] = DEFAULT_SAMPLE,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1, description="Seed of the samples.")] = 0,
) -> HTMLResponse:
    """Evidently's `DataDriftPreset` report of the version's predictions with event_time in
    [from, to) against the version's reference (the one the engine compares windows with).
    When a side has more than `sample` rows, a seeded uniform sample of `sample` rows is used,
    and a banner at the top of the page says so. The first report of a process also loads
    Evidently (~5 s); one report renders at a time per process."""
    # Planning (ids only) answers 404/422 at once; rows are read and rendered (~1-2 s of CPU)
    # in worker threads only once this request holds the render slot.
    start, end = checked_range(from_, to, MAX_REPORT_RANGE)
    request = DriftRequest(start=start, end=end, version=version, sample=sample, seed=seed)
    planned = await run_in_threadpool(drift.plan, context.sessions, name, request)
    async with evidently_report.render_slot():
        data = await run_in_threadpool(drift.read, context.sessions, request, planned)
        report = await run_in_threadpool(evidently_report.render, data)
    return HTMLResponse(report.html, headers=_headers(data, report))


def wants_markdown(format: CardFormat | None, accept: str | None) -> bool:
    """``format`` decides when given; else Markdown when ``Accept`` names text/markdown with a
    higher quality than application/json (JSON on a tie or when neither is named)."""
    if format is not None:
        return format is CardFormat.MARKDOWN
    quality: dict[str, float] = {}
    for item in (accept or "").split(","):
        media, *params = (part.strip() for part in item.split(";"))
        q = next((p[2:] for p in params if p.startswith("q=")), "1")
        try:
            quality[media.lower()] = float(q)
        except ValueError:
            quality[media.lower()] = 0.0
    return quality.get("text/markdown", 0.0) > quality.get("application/json", 0.0)


@router.get(
    "/{name}/card",
    summary="The model card",
    response_model=ModelCard,
    responses={
        200: {
            "description": "The card as JSON, or as Markdown.",
            "content": {"text/markdown": {"schema": {"type": "string"}, "example": _MARKDOWN_EXAMPLE}},
        },
        **_ERRORS,
    },
)
def model_card(
    name: ModelNamePath,
    context: Context,
    response: Response,
    version: Annotated[str | None, Query(pattern=VERSION_PATTERN, description="Default: the newest.")] = None,
    format: Annotated[CardFormat | None, Query(description="Default: from `Accept`, else json.")] = None,
    windows: Annotated[
        int, Query(ge=1, le=MAX_CARD_WINDOWS, description="Recent windows listed.")
    ] = DEFAULT_CARD_WINDOWS,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Any:
    """A version's card: its schema and lineage, its reference, the monitor configuration,
    its status, performance and fairness per group in the recent windows with their
    intervals, its open and recently resolved alerts, and its retraining requests — every
    figure as stored. `format=markdown` (or `Accept: text/markdown`) renders the same card
    as Markdown."""
    with unit_of_work(context.sessions) as session:
        card = build_card(session, name, version, windows, context.clock())
    if wants_markdown(format, accept):
        return Response(render_markdown(card), media_type=MARKDOWN, headers={"Vary": "Accept"})
    response.headers["Vary"] = "Accept"
    return card


class ReportFormat(StrEnum):
    HTML = "html"
    PDF = "pdf"


# The compliance page has no script and loads nothing: a browser fetches nothing on its behalf.
COMPLIANCE_CSP = "default-src 'none'; style-src 'unsafe-inline'"
_COMPLIANCE_EXAMPLE = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Compliance report — '
    "credit-scoring 2026-07-01T00:00:00Z – 2026-10-01T00:00:00Z</title>…</head><body>"
    '<header class="report-header"><h1>Compliance report: credit-scoring</h1>…</header>…</body></html>'
)
_COMPLIANCE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report: one print-ready HTML page, or that page printed to PDF by "
        "headless Chromium.",
        "content": {
            "text/html": {"schema": {"type": "string"}, "example": _COMPLIANCE_EXAMPLE},
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    **_ERRORS,
    503: {
        "model": ErrorBody,
        "description": "format=pdf without Chromium (the body names it), or too many PDFs being printed.",
    },
}


def _report(context: Context, name: str, request: compliance.ReportRequest) -> tuple[str, str]:
    with unit_of_work(context.sessions) as session:
        report = compliance.build_report(session, name, request, context.clock())
    return compliance_html.render(report), f"{report.model}-{report.start:%Y%m%d}-{report.end:%Y%m%d}"


@router.get(
    "/{name}/report",
    summary="Compliance report of a period",
    response_class=Response,
    responses=_COMPLIANCE_RESPONSES,
)
async def compliance_report(
    name: ModelNamePath,
    context: Context,
    from_: Annotated[datetime, Query(alias="from", description="Start of the period (with a timezone).")],
    to: Annotated[datetime, Query(description="End of the period, excluded.")],
    version: Annotated[
        str | None, Query(pattern=VERSION_PATTERN, description="Default: every version.")
    ] = None,
    format: Annotated[ReportFormat, Query(description="html or pdf.")] = ReportFormat.HTML,
) -> Response:
    """Per version over [from, to) (widened to the bucket grid): realised and estimated
    performance, fairness per group and intersection with intervals and impact ratios,
    calibration per group, thresholds and breaches, label coverage and retraining requests;
    then the model's incidents and alerts with their acknowledgements, the monitoring
    configuration's history from the audit log and the data-retention statement. Cells about
    fewer than `MODELMON_REPORT_MIN_CELL` people are suppressed, with their complements
    (docs/reports.md). `format=pdf` prints the page with headless Chromium."""
    start, end = checked_range(from_, to, compliance.MAX_PERIOD)
    settings = context.settings
    binary = pdf.find_chromium(settings.report_chromium) if format is ReportFormat.PDF else ""
    request = compliance.ReportRequest(start, end, version, settings.report_min_cell, settings.retention_days)
    html, stem = await run_in_threadpool(_report, context, name, request)
    headers = {"Cache-Control": "no-store", "Content-Security-Policy": COMPLIANCE_CSP}
    if format is ReportFormat.HTML:
        return HTMLResponse(html, headers=headers)
    async with pdf.print_slot():
        document = await run_in_threadpool(pdf.print_pdf, html, binary)
    headers["Content-Disposition"] = f'inline; filename="{stem}.pdf"'
    return Response(document, media_type="application/pdf", headers=headers)
