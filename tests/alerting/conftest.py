"""A harness per test: the app on the test's database with a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service.app import create_app
from service.config import Settings
from tests.alerting.support import Harness, harness
from tests.asgi_client import app_client
from tests.conftest import NOW
from tests.windows.scenario import MutableClock


@pytest.fixture
def h(settings: Settings) -> Iterator[Harness]:
    clock = MutableClock(NOW)
    app = create_app(settings, clock=clock)
    try:
        with app_client(app) as client:
            yield harness(app, client, clock)
    finally:
        app.state.context.engine.dispose()
