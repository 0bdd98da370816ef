"""A client of the app, whose routes include the reports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service.app import create_app
from service.clock import frozen_clock
from service.config import Settings
from tests.asgi_client import AppClient, app_client
from tests.conftest import NOW


@pytest.fixture
def reports_client(settings: Settings) -> Iterator[AppClient]:
    app = create_app(settings, clock=frozen_clock(NOW))
    try:
        with app_client(app) as client:
            yield client
    finally:
        app.state.context.engine.dispose()
