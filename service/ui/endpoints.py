"""The built-in status page: ``/ui`` (models, firing alerts, health) and ``/ui/models/{name}``
(charts of the newest windows, alerts). Server-rendered HTML with nothing external: the
Content-Security-Policy forbids every script and every fetch, so a value that escaped
escaping could still not run."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from service.alerting import incident_queries
from service.context import Context
from service.errors import NotFound
from service.storage.database import unit_of_work
from service.ui import incidents, pages, service

router = APIRouter(prefix="/ui", tags=["status page"], include_in_schema=False)

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Alert states change every pass; a cached page would show a resolved alert as firing.
    "Cache-Control": "no-store",
}


def _root(request: Request) -> str:
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def _csrf(request: Request) -> str | None:
    """The form token of the session the page is seen through (set by the guard), if any."""
    csrf = getattr(request.state, "csrf", None)
    return csrf if isinstance(csrf, str) else None


def _html(body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status_code, headers=HEADERS)


@router.get("")
def overview(request: Request, context: Context) -> HTMLResponse:
    """Every model with its newest window and status, the firing alerts, the engine's backlog."""
    with unit_of_work(context.sessions) as session:
        data = service.overview(session, context.clock())
    return _html(pages.overview_page(data, _root(request), _csrf(request)))


# ``path``: a name with an encoded "/" (which the API's names never hold) still gets the HTML 404.
@router.get("/models/{name:path}")
def model(
    name: str,
    request: Request,
    context: Context,
    version: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    """One model version's drift, performance and fairness over its newest windows, and its
    alerts; the 404 page for an unknown model or version."""
    with unit_of_work(context.sessions) as session:
        page = service.model_page(session, name, version, context.clock())
    root = _root(request)
    if page is None:
        subject = f"model {name!r}" if version is None else f"version {version!r} of model {name!r}"
        return _html(pages.not_found_page(f"There is no {subject}.", root, _csrf(request)), status_code=404)
    return _html(pages.model_page(page, root, _csrf(request)))


@router.get("/incidents")
def incident_list(request: Request, context: Context) -> HTMLResponse:
    """Incidents, newest first, with their state, summary and who acknowledged them."""
    with unit_of_work(context.sessions) as session:
        page = incident_queries.newest_incidents(session, incidents.LISTED)
    return _html(incidents.list_page(page, _root(request), context.clock(), _csrf(request)))


@router.get("/incidents/{incident_id}")
def incident(incident_id: int, request: Request, context: Context) -> HTMLResponse:
    """One incident: likely causes, alerts, acknowledgements; the 404 page for an unknown id."""
    root = _root(request)
    try:
        with unit_of_work(context.sessions) as session:
            detail = incident_queries.incident_detail(session, incident_id)
    except NotFound:
        return _html(pages.not_found_page(f"There is no incident {incident_id}.", root, _csrf(request)), 404)
    return _html(incidents.detail_page(detail, root, context.clock(), _csrf(request)))
