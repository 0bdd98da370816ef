"""The app with the status page on the test's database (SQLite and Postgres), and a harness that
stores chosen figures the way the engine does (tests/alerting/support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service.config import Settings
from tests.alerting.support import Harness, harness
from tests.asgi_client import app_client
from tests.conftest import NOW
from tests.ui.support import ui_app
from tests.windows.scenario import MutableClock


@pytest.fixture
def h(settings: Settings) -> Iterator[Harness]:
    clock = MutableClock(NOW)
    app = ui_app(settings, clock)
    try:
        with app_client(app) as client:
            yield harness(app, client, clock)
    finally:
        app.state.context.engine.dispose()


@pytest.fixture
def empty_site(settings: Settings) -> Iterator[Harness]:
    """Like ``h`` but with no model registered."""
    clock = MutableClock(NOW)
    app = ui_app(settings, clock)
    try:
        with app_client(app) as client:
            yield Harness(client, app.state.context.sessions, clock, model_id=0, version_id=0)
    finally:
        app.state.context.engine.dispose()
