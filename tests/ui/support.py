"""The app with the status page, a live uvicorn server of it, and the data the tests show.

``seeded`` runs the engine's scenario (tests/windows/scenario.py: injected drift on income and
purpose from day 2, a selection-rate gap for sex=F on day 3) through the real API and jobs,
but stops the jobs when traffic stops: the labels of the last 12 hours then never get
evaluated, so the newest windows stay provisional, as they are on a live system.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import uvicorn
from fastapi import FastAPI

from service.app import create_app
from service.clock import Clock
from service.config import Settings
from service.runner import Pipeline
from tests.asgi_client import AppClient
from tests.auth import TEST_ADMIN_KEY
from tests.tools import require_binary
from tests.ui.webdriver import Browser, chromium, free_port
from tests.windows import scenario

TRAFFIC_END = scenario.START + timedelta(days=scenario.DAYS)


def ui_app(settings: Settings, clock: Clock) -> FastAPI:
    """The app (whose routes include the status page) on ``clock``."""
    return create_app(settings, clock=clock)


def seed(client: AppClient, clock: scenario.MutableClock, jobs: Pipeline) -> None:
    """The scenario; the jobs run while traffic flows (windows ending by ``TRAFFIC_END``)."""

    def round_while_traffic() -> None:
        if clock.at <= TRAFFIC_END:
            jobs.run_round()

    scenario.run(client, clock, round_while_traffic)


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on a free loopback port; yields its base URL."""
    port = free_port()
    # h11 and no websockets: nothing imported that could warn (warnings are errors in tests).
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="off", log_level="warning", http="h11", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="ui-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@contextmanager
def signed_in_chromium(url: str) -> Iterator[Browser]:
    """A real headless Chromium signed in to the live server at ``url`` with the admin key,
    on the status page (tests/ui/test_browser.py checks the sign-in itself)."""
    with chromium(require_binary("chromedriver"), require_binary("chromium", "chromium-browser")) as started:
        started.get(f"{url}/ui/login")
        started.type_into(started.find('input[name="key"]'), TEST_ADMIN_KEY)
        started.click(started.find('button[type="submit"]'))
        assert started.wait_for_title("Status · modelmon") == "Status · modelmon"
        yield started
