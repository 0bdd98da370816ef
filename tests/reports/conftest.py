"""Apps with the reports router: included here while ``service/app.py`` does not include it yet."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from service.app import create_app
from service.clock import frozen_clock
from service.config import Settings
from service.reports.endpoints import router
from tests.asgi_client import AppClient, app_client
from tests.conftest import NOW

CARD_PATH = "/v1/models/{name}/card"


def with_reports(app: FastAPI) -> FastAPI:
    """``app`` with the reports routes (added once: a no-op when the app already has them)."""
    if not any(getattr(route, "path", None) == CARD_PATH for route in app.routes):
        app.include_router(router)
    return app


@pytest.fixture
def reports_client(settings: Settings) -> Iterator[AppClient]:
    app = with_reports(create_app(settings, clock=frozen_clock(NOW)))
    try:
        with app_client(app) as client:
            yield client
    finally:
        app.state.context.engine.dispose()
