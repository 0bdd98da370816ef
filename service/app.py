"""The FastAPI application, built from one Settings object."""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from sqlalchemy import Engine

from service import __version__
from service.alerting.endpoints import router as alerting_router
from service.alerting.incident_endpoints import router as incidents_router
from service.apidocs import install_api_docs
from service.audit.endpoints import router as audit_router
from service.auth.endpoints import router as keys_router
from service.auth.guard import Gate, Need, requirement
from service.auth.ratelimit import RateLimiter
from service.auth.service import Authenticator
from service.auth.sessions import SessionPolicy, SessionStore
from service.clock import Clock, system_clock
from service.config import Settings, check_production_safety, environment_problems
from service.context import AppContext
from service.datasets.endpoints import router as datasets_router
from service.edge.collector import favour_the_event_loop, freeze_startup_objects
from service.edge.limits import BodyLimits
from service.edge.middleware import Edge
from service.errors import ErrorBody, install_error_handlers, refuse_unstorable_query
from service.export.endpoints import router as export_router
from service.export.setup import install_metrics
from service.health.endpoints import router as health_router
from service.ingestion.endpoints import router as ingestion_router
from service.ingestion.schemas import COMPONENT_SCHEMAS
from service.kernel.threads import one_blas_thread
from service.privacy.endpoints import router as privacy_router
from service.profiles.endpoints import router as profiles_router
from service.registry.endpoints import router as registry_router
from service.reports.endpoints import router as reports_router
from service.status.endpoints import router as monitors_router
from service.storage.database import create_database_engine, create_session_factory
from service.ui.endpoints import router as ui_router
from service.ui.login import router as login_router
from service.webhooks.endpoints import router as webhooks_router
from service.windows.endpoints import router as windows_router

DESCRIPTION = """
modelmon watches machine-learning models in production. Models send their predictions and,
later, the true outcomes; modelmon stores them and evaluates drift, performance and fairness.

Every error answers `{"detail", "errors": [{"index", "field", "message"}], "error_count"}`.
"""


def _lifespan(context: AppContext) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Run the jobs and webhook delivery in threads of the API process when
    ``settings.jobs_in_api`` (embedded SQLite)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if not context.settings.jobs_in_api:
            yield
            return
        from service.runner import Runner

        stop = threading.Event()
        runner = Runner(context.sessions, context.settings, context.clock)
        thread = threading.Thread(target=runner.run_forever, args=(stop,), name="modelmon-jobs", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=30)
            runner.close()

    return lifespan


def create_app(settings: Settings, *, clock: Clock = system_clock, engine: Engine | None = None) -> FastAPI:
    check_production_safety(settings)
    engine = engine or create_database_engine(settings)
    context = AppContext(settings, engine, create_session_factory(engine), clock)
    app = FastAPI(
        title="modelmon",
        version=__version__,
        description=DESCRIPTION,
        lifespan=_lifespan(context),
        dependencies=[Depends(refuse_unstorable_query)],
        docs_url=None,  # served by install_api_docs, with no CDN
        redoc_url=None,
    )
    app.state.context = context
    app.state.gate = _gate(context)
    install_error_handlers(app, settings.max_errors_listed)
    # Inside the metrics middleware (added next, so outermost), which then counts its answers.
    app.add_middleware(
        Edge, application=app, limits=BodyLimits.of(settings), max_errors_listed=settings.max_errors_listed
    )
    install_metrics(app, context)
    install_api_docs(app)
    app.include_router(health_router)
    app.include_router(registry_router)
    app.include_router(ingestion_router)
    app.include_router(profiles_router)
    app.include_router(monitors_router)
    app.include_router(windows_router)
    app.include_router(alerting_router)
    app.include_router(incidents_router)
    app.include_router(export_router)
    app.include_router(datasets_router)
    app.include_router(reports_router)
    app.include_router(webhooks_router)
    app.include_router(keys_router)
    app.include_router(audit_router)
    app.include_router(privacy_router)
    app.include_router(login_router)
    app.include_router(ui_router)
    _document_hand_read_bodies(app)
    return app


def _gate(context: AppContext) -> Gate:
    settings = context.settings
    admin_key = None if settings.admin_key is None else settings.admin_key.get_secret_value()
    policy = SessionPolicy(
        idle=timedelta(seconds=settings.ui_session_idle_seconds),
        absolute=timedelta(seconds=settings.ui_session_max_seconds),
    )
    return Gate(
        enabled=settings.auth,
        authenticator=Authenticator(context.sessions, context.clock, admin_key),
        limiter=RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
        ui_sessions=SessionStore(context.sessions, context.clock, policy, admin_key),
    )


def _document_hand_read_bodies(app: FastAPI) -> None:
    """Add the schemas of bodies the ingestion endpoints read themselves to the OpenAPI document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(COMPONENT_SCHEMAS)
            # FastAPI documents its own 422 shape; modelmon answers every error with ErrorBody.
            error_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(error_schema.pop("$defs", {}))
            schemas["HTTPValidationError"] = error_schema
            _document_auth(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_AUTH_ANSWERS = {
    "401": "No usable API key: missing, malformed, unknown or revoked (the message says which).",
    "403": "The key's role or model scope does not cover this route (the message says what it needs).",
    "429": "Over the key's rate limit; retry after `Retry-After` seconds.",
}

# Answered by the edge middleware to any route with a body (docs/security.md, Before the body).
_BODY_ANSWERS = {
    "400": "Malformed or hostile JSON (too deep, a number beyond a 64-bit float, not UTF-8); "
    "the message says which and where.",
    "413": "Body over this route's limit.",
}


def _document_auth(schema: dict[str, Any]) -> None:
    """Bearer keys as the security scheme, and 401/403/429 on every route that needs a key."""
    schema["components"]["securitySchemes"] = {
        "apiKey": {"type": "http", "scheme": "bearer", "description": "A modelmon API key (mmk_…)."}
    }
    error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if requirement(method.upper(), path) is Need.OPEN:
                continue
            operation["security"] = [{"apiKey": []}]
            for status, description in _AUTH_ANSWERS.items():
                operation["responses"].setdefault(status, {"description": description, "content": error_ref})
            if "requestBody" in operation:
                for status, description in _BODY_ANSWERS.items():
                    operation["responses"].setdefault(
                        status, {"description": description, "content": error_ref}
                    )


def create_app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory`` (several worker processes): settings from MODELMON_*.
    Production refuses unknown MODELMON_* variables here too, for uvicorn started by hand."""
    settings = Settings()
    environment_problems(settings, os.environ)
    app = create_app(settings)
    freeze_startup_objects()
    favour_the_event_loop()
    one_blas_thread()
    return app
