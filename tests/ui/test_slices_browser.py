"""The failing slices in a real headless Chromium against a live uvicorn server: the model
page's section for the newest window and a performance incident's list, both checked against
the API (``GET …/slices``, ``GET /v1/incidents``); each page is saved under artifacts/ui/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from service.alerting.incident_slices import cell_text
from service.config import Settings
from tests.alerting.support import T0, Harness, drift, harness
from tests.alerting.test_incident_slices import plant_failing_slice
from tests.alerting.test_incidents import performance
from tests.asgi_client import app_client
from tests.conftest import NOW
from tests.ui.support import live_server, signed_in_chromium, ui_app
from tests.ui.webdriver import Browser
from tests.windows.scenario import MutableClock

pytestmark = pytest.mark.slow  # a real Chromium, like tests/ui/test_browser.py

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "ui"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[tuple[str, Harness]]:
    path = tmp_path_factory.mktemp("slices") / "modelmon.db"
    shutil.copy(sqlite_template, path)
    clock = MutableClock(NOW)
    settings = Settings(database_url=f"sqlite:///{path}", run_jobs=False)
    app = ui_app(settings, clock)
    try:
        with app_client(app) as client:
            h = harness(app, client, clock)
            plant_failing_slice(h, settings)
            for hour in (1, 2):
                h.store(hour, [performance("accuracy", 0.6), drift(0.3)])
                h.run_pass(hour + 0.1)
            with live_server(app) as url:
                yield url, h
    finally:
        app.state.context.engine.dispose()


@pytest.fixture(scope="module")
def browser(site: tuple[str, Harness]) -> Iterator[Browser]:
    url, _ = site
    with signed_in_chromium(url) as started:
        yield started


def test_the_model_page_and_the_incident_list_the_failing_slices(
    site: tuple[str, Harness], browser: Browser
) -> None:
    url, h = site
    window = {"from": (T0 - timedelta(hours=22)).isoformat(), "to": (T0 + timedelta(hours=2)).isoformat()}
    api = h.client.get("/v1/models/credit/slices", params=window).json()
    assert api["slices"], api
    browser.get(f"{url}/ui/models/credit")
    rows = browser.find_all("table.slices tr.slice")
    assert len(rows) == min(len(api["slices"]), 10)
    first = browser.texts("td", within=rows[0])
    top = api["slices"][0]
    assert first[0] == " & ".join(cell_text(c["kind"], c["column"], c["value"]) for c in top["slice"])
    assert first[1] == str(top["n"])
    png = browser.full_page_screenshot(ARTIFACTS / "slices.png")
    assert len(png) > 10_000

    (drop,) = [i for i in h.client.get("/v1/incidents").json()["items"] if i["kind"] == "performance"]
    browser.get(f"{url}/ui/incidents/{drop['id']}")
    items = browser.find_all("ol.slices li.incident-slice")
    assert len(items) == len(drop["slices"]) > 0
    assert "purpose = home" in browser.text(items[0])
    browser.full_page_screenshot(ARTIFACTS / "incident-slices.png")
