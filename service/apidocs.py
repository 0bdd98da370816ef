"""``/docs`` (Swagger UI) and ``/redoc`` with every script, stylesheet and icon served by
modelmon itself, from the pinned ``fastapi-offline`` package (Swagger UI 5.32, ReDoc 2).

FastAPI's defaults load them from a CDN at a floating major version (``swagger-ui-dist@5``):
a page an operator opens with a key at hand would run whatever that host serves that day,
and nothing renders in an air-gapped network. Here nothing is fetched from anywhere else,
at start-up or at run time.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, swagger_ui_default_parameters
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

ASSET_PACKAGE = "fastapi_offline"
ASSETS_PATH = "/docs/assets"
# name → media type; nothing else is served from the package.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
}
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect width="16" height="16" rx="3" fill="#1f6feb"/>'
    '<path d="M3 12V4l5 5 5-5v8" stroke="#fff" stroke-width="2" fill="none"/></svg>'
)
# The assets change only with the pinned package, i.e. with a new modelmon release: a day of
# caching spares a browser 2.8 MiB per visit and is stale at most that long after an upgrade.
_CACHE = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
# Swagger UI otherwise sends the document's URL to an online validator for a badge.
_SWAGGER_PARAMETERS = {**swagger_ui_default_parameters, "validatorUrl": None}


@cache
def asset(name: str) -> bytes:
    return resources.files(ASSET_PACKAGE).joinpath("static", name).read_bytes()


def _root(request: Request) -> str:
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def _openapi_url(request: Request) -> str:
    app: FastAPI = request.app
    return f"{_root(request)}{app.openapi_url}"


async def swagger_ui(request: Request) -> HTMLResponse:
    assets = f"{_root(request)}{ASSETS_PATH}"
    app: FastAPI = request.app
    return get_swagger_ui_html(
        openapi_url=_openapi_url(request),
        title=f"{app.title} · API",
        swagger_js_url=f"{assets}/swagger-ui-bundle.js",
        swagger_css_url=f"{assets}/swagger-ui.css",
        swagger_favicon_url=f"{assets}/favicon.svg",
        swagger_ui_parameters=_SWAGGER_PARAMETERS,
    )


async def redoc(request: Request) -> HTMLResponse:
    assets = f"{_root(request)}{ASSETS_PATH}"
    app: FastAPI = request.app
    return get_redoc_html(
        openapi_url=_openapi_url(request),
        title=f"{app.title} · API",
        redoc_js_url=f"{assets}/redoc.standalone.js",
        redoc_favicon_url=f"{assets}/favicon.svg",
        with_google_fonts=False,
    )


async def docs_asset(request: Request) -> Response:
    name = str(request.path_params["name"])
    if name == "favicon.svg":
        return Response(FAVICON, media_type="image/svg+xml", headers=_CACHE)
    if name not in ASSETS:
        return Response(status_code=404)
    return Response(asset(name), media_type=ASSETS[name], headers=_CACHE)


def install_api_docs(app: FastAPI) -> None:
    """Serve the docs pages and their assets; build ``app`` with ``docs_url=None, redoc_url=None``.

    Plain routes like FastAPI's own docs routes: open (they hold no data; the OpenAPI
    document they read is open too) and outside the OpenAPI document."""
    app.add_route("/docs", swagger_ui, include_in_schema=False)
    app.add_route("/redoc", redoc, include_in_schema=False)
    app.add_route(ASSETS_PATH + "/{name}", docs_asset, include_in_schema=False)
