"""The status page in a real headless Chromium, driven over W3C WebDriver (tests/ui/webdriver.py),
against a live uvicorn server of the app whose SQLite database holds the engine's scenario.

What the browser shows is checked against the API's own figures; each page is also saved as a
full-page screenshot under artifacts/ui/ for people to look at.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.config import Settings
from service.runner import Pipeline
from tests.asgi_client import AppClient, app_client
from tests.auth import TEST_ADMIN_KEY
from tests.tools import require_binary
from tests.ui.support import live_server, seed, ui_app
from tests.ui.webdriver import Browser, chromium
from tests.windows import scenario

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "ui"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
Item = dict[str, Any]


@dataclass
class Site:
    url: str
    api: AppClient

    def items(self, **params: str) -> list[Item]:
        response = self.api.get("/v1/models/credit/evaluations", params={"limit": "50000", **params})
        assert response.status_code == 200, response.text
        found: list[Item] = response.json()["items"]
        return found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Site]:
    path = tmp_path_factory.mktemp("ui") / "modelmon.db"
    shutil.copy(sqlite_template, path)
    settings = Settings(database_url=f"sqlite:///{path}", run_jobs=False)
    clock = scenario.MutableClock(scenario.START)
    app = ui_app(settings, clock)
    try:
        with app_client(app) as api:
            seed(api, clock, Pipeline(app.state.context.sessions, settings, clock))
            with live_server(app) as url:
                yield Site(url, api)
    finally:
        app.state.context.engine.dispose()


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Browser]:
    driver = require_binary("chromedriver")
    binary = require_binary("chromium", "chromium-browser", "google-chrome")
    with chromium(driver, binary) as started:
        # Signed in as a person would: the form, the key typed, the button.
        started.get(f"{site.url}/ui/login")
        started.type_into(started.find('input[name="key"]'), TEST_ADMIN_KEY)
        started.click(started.find('button[type="submit"]'))
        assert started.wait_for_title("Status · modelmon") == "Status · modelmon"
        yield started


def test_the_browser_holds_a_session_token_not_the_key(site: Site, browser: Browser) -> None:
    browser.get(f"{site.url}/ui")
    cookies = {cookie["name"]: cookie for cookie in browser.cookies()}
    session = cookies["modelmon_session"]
    assert session["httpOnly"] is True and session["sameSite"] == "Lax" and session["path"] == "/ui"
    assert all(TEST_ADMIN_KEY not in str(cookie["value"]) for cookie in cookies.values())
    assert browser.find_all("form.signout")


def screenshot(browser: Browser, name: str) -> None:
    png = browser.full_page_screenshot(ARTIFACTS / f"{name}.png")
    assert png.startswith(PNG_SIGNATURE) and len(png) > 10_000


def values_per(items: list[Item], key: str) -> Counter[str]:
    """How many windows have a value, per subject (feature or group)."""
    return Counter(str(i[key]) for i in items if i["value"] is not None)


def test_overview_lists_the_model_its_firing_alerts_and_health(site: Site, browser: Browser) -> None:
    # Without a key the page is refused: what the browser sees below, it sees by its key cookie.
    assert httpx.get(f"{site.url}/ui").status_code != 200
    browser.get(f"{site.url}/ui")
    assert browser.title() == "Status · modelmon"
    row = browser.find('tr.model[data-model="credit"]')
    cells = browser.texts("td", within=row)
    assert cells[0] == "credit" and cells[1] == "v1"
    assert cells[2].endswith("2026-11-04 00:00 UTC")  # the newest window ends when traffic ends
    assert cells[3].startswith("firing")
    firing = browser.texts("table.alerts tbody tr")
    api = site.api.get("/v1/alerts", params={"state": "firing", "limit": "1000"}).json()["items"]
    assert len(firing) == len(api) > 0
    drifted = [t for t in firing if "drift_score" in t and "income" in t]
    assert len(drifted) == 1 and "credit" in drifted[0] and "warning" in drifted[0]
    assert any("statistical_parity_difference" in t and "sex" in t and "critical" in t for t in firing)
    assert browser.text(browser.find("[data-health]")).startswith("Database ok")
    screenshot(browser, "overview")


def test_model_page_draws_drift_per_feature_with_every_window(site: Site, browser: Browser) -> None:
    browser.get(f"{site.url}/ui/models/credit")
    assert browser.text(browser.find("h1")) == "credit"
    drift = browser.find('figure[data-chart="drift"]')
    assert len(browser.find_all("svg.chart", within=drift)) == 1
    series = browser.find_all("g.series", within=drift)
    assert len(series) == 6  # the top 6 of 7 (5 features, prediction and score)
    expected = values_per(site.items(family="drift", metric="drift_score"), "feature")
    shown = {}
    for element in series:
        name = browser.attribute(element, "data-series")
        assert name is not None
        shown[name] = len(browser.find_all("circle.point", within=element))
    assert set(scenario.DRIFTED) <= set(shown)
    assert shown == {name: expected[name] for name in shown}
    assert "threshold" in browser.text(browser.find("ul.legend", within=drift))
    screenshot(browser, "model")


def test_provisional_windows_are_drawn_hollow_and_explained(site: Site, browser: Browser) -> None:
    browser.get(f"{site.url}/ui/models/credit")
    accuracy = site.items(family="performance", metric="accuracy")
    provisional = [i for i in accuracy if i["status"] == "provisional"]
    assert len(provisional) == 2  # the two windows whose last 12 hours are unlabelled
    chart = browser.find('figure[data-chart="performance-accuracy"]')
    realised = browser.find('g.series[data-series="realised"]', within=chart)
    assert len(browser.find_all("circle.point", within=realised)) == len(accuracy)
    assert len(browser.find_all("circle.point.provisional", within=realised)) == len(provisional)
    assert len(browser.find_all("path.line.provisional", within=realised)) == 1
    assert len(browser.find_all("polygon.band", within=realised)) == 1
    legend = browser.text(browser.find("ul.legend", within=chart))
    assert "provisional (labels still arriving)" in legend and "interval" in legend


def test_fairness_shows_every_group_and_the_impact_ratio(site: Site, browser: Browser) -> None:
    browser.get(f"{site.url}/ui/models/credit")
    sex = browser.find('section.fairness[data-attribute="sex"]')
    assert browser.texts("span.group", within=sex) == ["F", "M"]
    rates = browser.find('figure[data-chart="fairness-sex-selection_rate"]', within=sex)
    expected = values_per(site.items(family="fairness", metric="selection_rate", attribute="sex"), "group")
    for group in ("F", "M"):
        line = browser.find(f'g.series[data-series="{group}"]', within=rates)
        assert len(browser.find_all("circle.point", within=line)) == expected[group] > 0
    ratio = browser.find('figure[data-chart="fairness-sex-disparate_impact_ratio"]', within=sex)
    assert browser.find_all("svg.chart line.threshold", within=ratio)
    alerted = site.items(family="fairness", metric="disparate_impact_ratio", attribute="sex")
    assert len(browser.find_all("circle.point.alert", within=ratio)) == sum(
        i["status"] == "alert" for i in alerted
    )
    age = browser.find('section.fairness[data-attribute="age_band"]')
    assert browser.texts("span.group", within=age) == ["18-34", "35-64", "65+"]
    legend = browser.text(browser.find('figure[data-chart="fairness-age_band-selection_rate"] ul.legend'))
    assert "65+ (insufficient data)" in legend  # 0.5 % of rows: never enough for a rate


def test_unknown_model_gets_the_not_found_page(site: Site, browser: Browser) -> None:
    browser.get(f"{site.url}/ui/models/no-such-model")
    assert browser.text(browser.find("h1")) == "Not found"
    assert "no-such-model" in browser.text(browser.find("[data-not-found]"))
    screenshot(browser, "not-found")


def test_signing_out_ends_the_session(site: Site, browser: Browser) -> None:
    # Last in the module: the browser is signed out afterwards.
    browser.get(f"{site.url}/ui")
    token = {c["name"]: c["value"] for c in browser.cookies()}["modelmon_session"]
    browser.click(browser.find("form.signout button"))
    assert browser.wait_for_title("Sign in · modelmon") == "Sign in · modelmon"
    browser.get(f"{site.url}/ui")
    assert browser.title() == "Sign in · modelmon"
    ended = httpx.get(f"{site.url}/ui", headers={"Cookie": f"modelmon_session={token}"})
    assert ended.status_code == 303
