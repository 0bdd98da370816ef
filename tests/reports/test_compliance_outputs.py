"""The compliance report as a user meets it: the PDF printed by headless Chromium, opened and
read; a clear 503 when Chromium is missing; read permission; the HTML page in a real Chromium
(screenshot under artifacts/ui/)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI

from service.app import create_app
from service.config import Settings
from service.runner import Pipeline
from tests.asgi_client import AppClient, app_client
from tests.auth.test_keys import bearer, make_key
from tests.reports.compliance_support import PERIOD, load, pdf_pages, pdf_text
from tests.tools import require_binary
from tests.ui.webdriver import chromium
from tests.windows import scenario

REPORT = "/v1/models/credit/report"
PARAMS = {"from": PERIOD[0].isoformat(), "to": PERIOD[1].isoformat()}
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "ui"
MISSING = "/nonexistent/chromium-for-this-test"


@dataclass
class Site:
    client: AppClient
    app: FastAPI
    url: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Site]:
    path = tmp_path_factory.mktemp("compliance") / "modelmon.db"
    shutil.copy(sqlite_template, path)
    settings = Settings(database_url=f"sqlite:///{path}", run_jobs=False)
    clock = scenario.MutableClock(scenario.START)
    app = create_app(settings, clock=clock)
    try:
        with app_client(app) as client:
            load(client, clock, Pipeline(app.state.context.sessions, settings, clock))
            yield Site(client, app, settings.database_url)
    finally:
        app.state.context.engine.dispose()


def test_the_pdf_opens_with_its_pages_and_the_header(site: Site) -> None:
    require_binary("chromium", "chromium-browser")
    response = site.client.get(REPORT, params={**PARAMS, "format": "pdf"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == 'inline; filename="credit-20261103-20261104.pdf"'
    document = response.content
    assert document.startswith(b"%PDF-") and document.rstrip().endswith(b"%%EOF")
    # The header page, version v1 (several pages of tables), incidents and alerts, history, retention.
    assert pdf_pages(document) >= 5
    text = pdf_text(document)
    for shown in ("Compliance report: credit", "2026-11-03T00:00:00Z", "2026-11-04T02:00:00Z", "0.1.0"):
        assert shown in text, shown
    assert "suppressed" in text and "Article 72" in text


def test_without_chromium_a_pdf_is_a_503_naming_what_is_missing(site: Site) -> None:
    settings = Settings(database_url=site.url, run_jobs=False, report_chromium=MISSING)
    app = create_app(settings, clock=lambda: PERIOD[1])
    try:
        with app_client(app) as client:
            response = client.get(REPORT, params={**PARAMS, "format": "pdf"})
            assert response.status_code == 503
            assert MISSING in response.json()["detail"] and "Chromium" in response.json()["detail"]
            assert client.get(REPORT, params=PARAMS).status_code == 200  # HTML needs no Chromium
    finally:
        app.state.context.engine.dispose()


def test_a_read_key_reads_the_report_and_an_ingest_key_does_not(site: Site) -> None:
    read, ingest = make_key(site.client, "read"), make_key(site.client, "ingest", ["credit"])
    assert site.client.get(REPORT, params=PARAMS, headers=bearer(read)).status_code == 200
    refused = site.client.get(REPORT, params=PARAMS, headers=bearer(ingest))
    assert refused.status_code == 403 and "read" in refused.json()["detail"]
    assert site.client.get("/v1/models/nobody/report", params=PARAMS).status_code == 404
    reversed_ = site.client.get(REPORT, params={"from": PARAMS["to"], "to": PARAMS["from"]})
    assert reversed_.status_code == 422 and reversed_.json()["errors"][0]["field"] == "to"


@pytest.mark.slow  # a real Chromium, like tests/ui/test_browser.py
def test_chromium_shows_the_report_as_served(site: Site, tmp_path: Path) -> None:
    response = site.client.get(REPORT, params=PARAMS)
    page = tmp_path / "report.html"
    page.write_text(response.text, encoding="utf-8")
    with chromium(require_binary("chromedriver"), require_binary("chromium", "chromium-browser")) as browser:
        browser.get(page.as_uri())
        assert browser.title().startswith("Compliance report — credit")
        assert browser.text(browser.find("h1")) == "Compliance report: credit"
        meta = [browser.texts("td", within=row) for row in browser.find_all("table.meta tr")]
        assert meta[2] == ["2026-11-03T00:00:00Z – 2026-11-04T00:00:00Z"]
        shown = browser.find_all("span.suppressed")
        assert len(shown) == response.text.count('<span class="suppressed">suppressed</span>') > 0
        assert len(browser.find_all('section.attribute[data-attribute="sex×age_band"] tbody tr')) >= 4
        png = browser.full_page_screenshot(ARTIFACTS / "report.png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
