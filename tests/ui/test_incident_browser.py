"""The incident view in a real headless Chromium against a live uvicorn server: an alert storm
(two drifted inputs, a data-quality break, three performance metrics) stored the way the
engine stores it, grouped by the alerting pass, one incident acknowledged through the API.
What the browser shows is checked against the API; each page is saved under artifacts/ui/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.config import Settings
from tests.alerting.support import Harness, drift, figure, harness
from tests.asgi_client import app_client
from tests.conftest import NOW
from tests.ui.support import live_server, signed_in_chromium, ui_app
from tests.ui.webdriver import Browser
from tests.windows.scenario import MutableClock

pytestmark = pytest.mark.slow  # a real Chromium, like tests/ui/test_browser.py

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "ui"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _storm(h: Harness) -> None:
    for hour in (1, 2, 3):
        h.store(
            hour,
            [
                drift(0.31),
                drift(0.14, feature="purpose"),
                figure("data_quality", "null_share", 0.2, 0.05, "alert", feature="debt"),
                *(
                    figure("performance", metric, value, 0.7, "alert")
                    for metric, value in (("accuracy", 0.61), ("roc_auc", 0.6), ("f1", 0.55))
                ),
            ],
        )
        h.run_pass(hour + 0.1)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[tuple[str, Harness]]:
    path = tmp_path_factory.mktemp("incidents") / "modelmon.db"
    shutil.copy(sqlite_template, path)
    clock = MutableClock(NOW)
    app = ui_app(Settings(database_url=f"sqlite:///{path}", run_jobs=False), clock)
    try:
        with app_client(app) as client:
            h = harness(app, client, clock)
            _storm(h)
            with live_server(app) as url:
                yield url, h
    finally:
        app.state.context.engine.dispose()


@pytest.fixture(scope="module")
def browser(site: tuple[str, Harness]) -> Iterator[Browser]:
    url, _ = site
    with signed_in_chromium(url) as started:
        yield started


def _shot(browser: Browser, name: str) -> None:
    png = browser.full_page_screenshot(ARTIFACTS / f"{name}.png")
    assert png.startswith(PNG_SIGNATURE) and len(png) > 10_000


def test_the_incident_list_and_one_incident_show_what_the_api_says(
    site: tuple[str, Harness], browser: Browser
) -> None:
    url, h = site
    api = {i["cause"]: i for i in h.client.get("/v1/incidents").json()["items"]}
    assert set(api) == {"data", "input:income", "input:purpose", "performance"}
    drop = api["performance"]
    note = {"by": "alice", "note": "debt nulls from the new form; fix deployed 14:05"}
    assert h.client.post(f"/v1/incidents/{drop['id']}/acknowledge", json=note).status_code == 200

    browser.get(f"{url}/ui/incidents")
    assert browser.title() == "Incidents · modelmon"
    rows = browser.find_all("tr.incident")
    assert len(rows) == 4
    row = browser.find(f'tr.incident[data-incident-id="{drop["id"]}"]')
    cells = browser.texts("td", within=row)
    assert cells[1] == "firing" and cells[2] == "critical" and cells[3] == "credit"
    assert cells[4] == drop["title"] and cells[5] == "3" and cells[7] == "alice"
    _shot(browser, "incidents")

    browser.get(f"{url}/ui/incidents/{drop['id']}")
    assert browser.text(browser.find("h1")) == f"Incident #{drop['id']}"
    causes = browser.find_all("ol.causes li.cause")
    kinds = [browser.attribute(c, "data-cause-kind") for c in causes]
    assert kinds == ["data", "input", "input"]  # data quality first, then income before purpose
    assert "income" in browser.text(causes[1]) and "purpose" in browser.text(causes[2])
    metrics = {browser.texts("td", within=r)[2] for r in browser.find_all("tr.alert")}
    assert metrics == {"accuracy", "roc_auc", "f1"}
    assert "fix deployed 14:05" in browser.text(browser.find("li.ack-note"))
    _shot(browser, "incident")
