"""The status pages over HTTP on SQLite and Postgres: empty state, 404 pages, escaping, no
external reference, and the charts drawn from stored figures."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from service.storage.database import unit_of_work
from service.storage.registry_tables import Model, ModelVersion
from tests.alerting.support import Harness, drift, figure
from tests.conftest import NOW
from tests.ui.dom import Node, parse

HOSTILE = '<script>alert("x")</script>'
HOSTILE_ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
LINK_ATTRIBUTES = ("src", "href", "action", "srcset", "poster", "xlink:href", "formaction", "data")


def page(h: Harness, url: str, status: int = 200) -> tuple[httpx.Response, Node]:
    response = h.client.get(url)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    return response, parse(response.text)


def test_empty_state_says_there_is_nothing_yet(empty_site: Harness) -> None:
    _, doc = page(empty_site, "/ui")
    assert doc.find("h1").text == "Status"
    assert [n.text for n in doc.find_all("h2")] == ["Models (0)", "Firing alerts (0)"]
    assert [n.text for n in doc.find_all("p", "empty")] == [
        "No model is registered yet. Register one with POST /v1/models.",
        "No alert is firing.",
    ]
    assert doc.find("p", "health").text.startswith("Database ok · schema ")
    assert "0 ended windows waiting" in doc.find("p", "health").text


def test_unknown_model_or_version_gets_the_404_page(h: Harness) -> None:
    _, doc = page(h, "/ui/models/ghost", 404)
    assert doc.find("h1").text == "Not found"
    assert doc.find("p", "lead").text == "There is no model 'ghost'."
    assert [a.text for a in doc.find("main").find_all("a")] == ["Back to all models"]
    _, doc = page(h, "/ui/models/credit?version=v9", 404)
    assert doc.find("p", "lead").text == "There is no version 'v9' of model 'credit'."
    response, doc = page(h, f"/ui/models/{quote(HOSTILE, safe='')}", 404)
    assert HOSTILE_ESCAPED in response.text and "<script" not in response.text
    assert HOSTILE in doc.find("p", "lead").text


def _register_hostile_model(h: Harness) -> None:
    """A model whose names the API would refuse, as a database restored from elsewhere may hold."""
    with unit_of_work(h.sessions) as session:
        model = Model(name=HOSTILE, created_at=NOW)
        session.add(model)
        session.flush()
        session.add(
            ModelVersion(
                model_id=model.id,
                version='v"><b>1',
                task="binary_classification",
                spec={"features": [], "protected_attributes": [], "positive_label": "1", "classes": None},
                spec_hash="0" * 64,
                provenance={},
                created_at=NOW,
            )
        )


@pytest.mark.slow
def test_every_value_from_the_database_is_escaped(h: Harness) -> None:
    _register_hostile_model(h)
    group = "<img src=x onerror=alert(1)>"
    for hour in (1, 2):  # drift fires after two alerting windows
        h.store(
            hour,
            [
                drift(0.4, feature=HOSTILE),
                figure("fairness", "selection_rate", 0.3, None, "ok", attribute="sex", group=group),
            ],
        )
    h.run_pass(2.1)
    overview, doc = page(h, "/ui")
    assert "<script" not in overview.text and "<img" not in overview.text and "<b>" not in overview.text
    assert HOSTILE_ESCAPED in overview.text
    hostile_row = doc.find("tr", "model", data_model=HOSTILE)
    assert hostile_row.text.startswith(HOSTILE)
    (alert,) = doc.find_all("tr", "alert")
    assert HOSTILE in alert.text  # the drifted feature, shown as text
    link = doc.find("a", href=f"/ui/models/{quote(HOSTILE, safe='')}")
    assert link.text == HOSTILE
    credit, doc = page(h, "/ui/models/credit")
    assert "<script" not in credit.text and "<img" not in credit.text
    assert doc.find("g", "series", data_series=HOSTILE)
    assert group in doc.find("section", "fairness", data_attribute="sex").text
    hostile, doc = page(h, f"/ui/models/{quote(HOSTILE, safe='')}")
    assert doc.find("h1").text == HOSTILE and "<b>" not in hostile.text
    assert 'v"><b>1' in doc.find("div", "meta").text


def _external_references(doc: Node) -> list[str]:
    found = []
    for node in doc.walk():
        if node.tag in ("script", "link", "iframe", "object", "embed", "img", "base", "form"):
            found.append(f"<{node.tag}>")
        for name in LINK_ATTRIBUTES:
            value = node.attrs.get(name)
            if value is not None and (not value.startswith("/") or value.startswith("//")):
                found.append(f"{node.tag} {name}={value}")
    return found


def _store_three_windows(h: Harness) -> None:
    """Drift of 8 features, accuracy (the newest window provisional), selection rate per sex."""
    for hour in (1, 2, 3):
        figures: list[dict[str, Any]] = [drift(0.01 * k * hour, feature=f"f{k}") for k in range(8)]
        status = "provisional" if hour == 3 else "ok"
        figures.append(figure("performance", "accuracy", 0.8 - 0.01 * hour, 0.75, status))
        figures += [
            figure("fairness", "selection_rate", rate, None, "ok", attribute="sex", group=group)
            for group, rate in (("F", 0.3), ("M", 0.5))
        ]
        figures.append(figure("fairness", "disparate_impact_ratio", 0.6, 0.8, "alert", attribute="sex"))
        h.store(hour, figures)


def test_pages_reference_nothing_outside_the_app(h: Harness) -> None:
    _store_three_windows(h)
    for url in ("/ui", "/ui/models/credit", "/ui/models/nothing"):
        response = h.client.get(url)
        doc = parse(response.text)
        assert _external_references(doc) == [], url
        assert "://" not in response.text and "url(" not in response.text and "@import" not in response.text
        hrefs = [n.attrs["href"] for n in doc.find_all("a")]
        assert hrefs and all(href.startswith("/") for href in hrefs)


def _circles(chart: Node, series: str, css_class: str = "point") -> int:
    return len(chart.find("g", "series", data_series=series).find_all("circle", css_class))


def test_model_page_charts_the_stored_figures(h: Harness) -> None:
    _store_three_windows(h)
    _, doc = page(h, "/ui/models/credit")
    drift_chart = doc.find("figure", data_chart="drift")
    shown = [g.attrs["data-series"] for g in drift_chart.find_all("g", "series")]
    assert shown == ["f7", "f6", "f5", "f4", "f3", "f2"]  # the 6 highest in the newest window
    assert all(_circles(drift_chart, name) == 3 for name in shown)
    assert "The 6 of 8 features" in doc.text
    accuracy = doc.find("figure", data_chart="performance-accuracy")
    assert (_circles(accuracy, "realised"), _circles(accuracy, "realised", "provisional")) == (3, 1)
    assert "provisional (labels still arriving)" in accuracy.find("ul", "legend").text
    assert len(accuracy.find("svg", "chart").find_all("line", "threshold")) == 1
    rates = doc.find("figure", data_chart="fairness-sex-selection_rate")
    assert [_circles(rates, g) for g in ("F", "M")] == [3, 3]
    ratio = doc.find("figure", data_chart="fairness-sex-disparate_impact_ratio")
    assert _circles(ratio, "impact ratio", "alert") == 3
    newest = datetime(2026, 11, 20, 15).strftime("%Y-%m-%d %H:%M UTC")
    assert newest in doc.find("div", "meta").text


@pytest.mark.slow
def test_a_model_without_windows_shows_empty_sections(h: Harness) -> None:
    _, doc = page(h, "/ui")
    row = doc.find("tr", "model", data_model="credit")
    assert "none yet" in row.text and "not evaluated" in row.text
    _, doc = page(h, "/ui/models/credit")
    assert [n.text for n in doc.find_all("p", "empty")] == [
        "No open alert.",
        "No drift figure is stored for this version yet.",
        "No performance figure yet.",
        "No fairness figure is stored for this version yet (it needs protected attributes).",
        "No resolved alert yet.",
    ]
