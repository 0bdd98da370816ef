"""``GET /v1/models/{name}/card`` after the engine's scenario (tests/windows/scenario.py) ran
through ingestion, aggregation, evaluation and alerting: every figure of the card is the
stored one, in JSON and in Markdown."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from service.app import create_app
from service.config import Settings
from service.reports.card import text
from service.reports.schemas import CARD_FAMILIES
from service.runner import Pipeline
from service.storage.database import unit_of_work
from service.storage.registry_tables import Reference
from tests.asgi_client import AppClient, app_client
from tests.windows import scenario

pytestmark = pytest.mark.slow
CARD = "/v1/models/credit/card"
FIGURE_FIELDS = (
    "family",
    "metric",
    "attribute",
    "group",
    "value",
    "ci_low",
    "ci_high",
    "n",
    "threshold",
    "status",
)


@dataclass
class Finished:
    client: AppClient
    app: FastAPI
    clock: scenario.MutableClock


@pytest.fixture
def finished(database_url: str) -> Iterator[Finished]:
    settings = Settings(database_url=database_url, run_jobs=False)
    clock = scenario.MutableClock(scenario.START)
    app = create_app(settings, clock=clock)
    jobs = Pipeline(app.state.context.sessions, settings, clock)
    try:
        with app_client(app) as client:
            scenario.run(client, clock, lambda: _round(jobs))
            _resume_traffic(client, clock, jobs)
            yield Finished(client, app, clock)
    finally:
        app.state.context.engine.dispose()


def _round(jobs: Pipeline) -> None:
    jobs.run_round()


def _resume_traffic(client: AppClient, clock: scenario.MutableClock, jobs: Pipeline) -> None:
    """One more prediction after the scenario's 18 silent hours: the no-data alert that the
    silence fired resolves, so the card has a resolved alert to list (every alert the scenario's
    injected problems raise is still firing at its end)."""
    record = {
        "id": "after-the-silence",
        "timestamp": clock.at.isoformat(),
        "features": {"income": 50.0, "debt": 20.0, "age": 40.0, "purpose": "car", "housing": "own"},
        "score": 0.4,
        "prediction": 0,
        "attributes": {"sex": "F", "age_band": "18-34"},
    }
    response = client.post("/v1/models/credit/predictions", json={"predictions": [record]})
    assert response.status_code == 200, response.text
    _round(jobs)


def _get(client: AppClient, url: str, **params: Any) -> Any:
    response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _stored_figures(client: AppClient) -> dict[str, list[tuple[Any, ...]]]:
    """The evaluations API's figures of the card's families, by window end."""
    by_end: dict[str, list[tuple[Any, ...]]] = {}
    for family in CARD_FAMILIES:
        page = _get(client, "/v1/models/credit/evaluations", family=family, limit=50_000)
        for item in page["items"]:
            by_end.setdefault(item["window_end"], []).append(tuple(item[f] for f in FIGURE_FIELDS))
    return by_end


def check_windows_are_the_newest_with_their_stored_figures(f: Finished, card: dict[str, Any]) -> None:
    stored = _stored_figures(f.client)
    newest = sorted(stored, reverse=True)[:5]
    assert [w["window_end"] for w in card["windows"]] == newest
    for window in card["windows"]:
        figures = [tuple(fig[k] for k in FIGURE_FIELDS) for fig in window["figures"]]
        assert sorted(figures, key=repr) == sorted(stored[window["window_end"]], key=repr)
        assert window["label_coverage"] == pytest.approx(window["labelled"] / window["rows"])
    fairness = [fig for fig in card["windows"][0]["figures"] if fig["family"] == "fairness"]
    groups = {(fig["attribute"], fig["group"]) for fig in fairness if fig["metric"] == "selection_rate"}
    assert {("sex", "F"), ("sex", "M"), ("age_band", "65+")} <= groups
    assert any(
        fig["ci_low"] is not None and fig["ci_low"] <= fig["value"] <= fig["ci_high"] for fig in fairness
    )


def check_alerts_and_requests_are_the_stored_ones(f: Finished, card: dict[str, Any]) -> None:
    alerts = _get(f.client, "/v1/alerts", model="credit", limit=1000)["items"]
    open_ = sorted((a for a in alerts if a["state"] in ("pending", "firing")), key=lambda a: a["id"])
    resolved = [a for a in alerts if a["state"] == "resolved"][:20]
    assert card["alerts"]["open"] == open_ and open_
    assert card["alerts"]["resolved"] == resolved and resolved
    assert card["status"]["state"] == "alerting"
    assert card["status"]["firing_alerts"] == sum(a["state"] == "firing" for a in open_)
    requests = _get(f.client, "/v1/retrain-requests", model="credit")
    assert [r["id"] for r in card["retrain_requests"]] == [r["id"] for r in requests] and requests
    for ours, stored in zip(card["retrain_requests"], requests, strict=True):
        assert (ours["window_start"], ours["window_end"]) == (stored["window_start"], stored["window_end"])
        reasons = [{k: r[k] for k in ours["reasons"][0]} for r in stored["evidence"]["reasons"]]
        assert ours["reasons"] == reasons


def check_version_reference_and_monitor_are_the_stored_ones(f: Finished, card: dict[str, Any]) -> None:
    model = _get(f.client, "/v1/models/credit")
    version = model["versions"][0]
    assert {k: card["version"][k] for k in version if k != "name"} == {
        k: v for k, v in version.items() if k != "name"
    }
    assert card["versions"] == [
        {k: v[k] for k in ("version", "created_at", "spec_hash")} for v in model["versions"]
    ]
    with unit_of_work(f.app.state.context.sessions) as session:
        reference = session.scalars(select(Reference)).one()
    assert card["reference"]["active"]["id"] == reference.id
    assert card["reference"]["active"]["rows"] == reference.row_count == 3000
    assert card["reference"]["active"]["content_hash"] == reference.content_hash
    monitor = _get(f.client, "/v1/models/credit/monitor")
    assert card["monitor"]["config"] == monitor["config"] and card["monitor"]["configured"] is True
    assert card["reference"]["reference_hash"] == monitor["status"]["layouts"][0]["reference_hash"]
    assert card["reference"]["kind"] == "uploaded" and card["reference"]["source"] == "reference"
    assert card["generated_at"].replace("Z", "+00:00") == f.clock.at.isoformat()


def _escaped(value: str) -> str:
    return re.sub(r"([\\|*_`\[\]<>&#])", r"\\\1", value)


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def check_markdown_holds_the_same_figures(f: Finished, card: dict[str, Any]) -> None:
    response = f.client.get(CARD, headers={"Accept": "text/markdown"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/markdown")
    text = response.text
    assert text.startswith("# Model card: credit v1")
    for fig in card["windows"][0]["figures"]:
        subject = (
            "—"
            if fig["attribute"] is None
            else f"{fig['attribute']}" + (f"={fig['group']}" if fig["group"] else "")
        )
        ci = "—" if fig["ci_low"] is None else f"[{fig['ci_low']:.4f}, {fig['ci_high']:.4f}]"
        cells = [
            _escaped(fig["family"]),
            _escaped(fig["metric"]),
            _escaped(subject) if fig["attribute"] else "—",
        ]
        cells += [_number(fig["value"]), ci, str(fig["n"]), _number(fig["threshold"]), fig["status"]]
        assert "| " + " | ".join(cells) + " |" in text
    for alert in card["alerts"]["open"] + card["alerts"]["resolved"]:
        assert f"| {alert['id']} | {alert['state']} | " in text
    for request in card["retrain_requests"]:
        assert f"| {request['id']} | " in text and request["reasons"]
        for reason in request["reasons"]:
            subject = reason["feature"] or reason["attribute"]
            named = " ".join(_escaped(p) for p in (reason["family"], reason["metric"], subject) if p)
            assert f"{named} = " in text
    assert card["reference"]["active"]["content_hash"] in text
    assert f.client.get(CARD, params={"format": "json"}, headers={"Accept": "text/markdown"}).json() == card
    assert f.client.get(CARD, params={"format": "markdown"}).text == text


def test_card_after_the_engine_scenario(finished: Finished) -> None:
    card = _get(finished.client, CARD)
    check_windows_are_the_newest_with_their_stored_figures(finished, card)
    check_alerts_and_requests_are_the_stored_ones(finished, card)
    check_version_reference_and_monitor_are_the_stored_ones(finished, card)
    check_markdown_holds_the_same_figures(finished, card)


def test_unknown_model_or_version_is_404_and_bad_parameters_422(reports_client: AppClient) -> None:
    assert reports_client.get("/v1/models/nobody/card").status_code == 404
    assert reports_client.post("/v1/models", json=scenario.registration()).status_code == 201
    missing = reports_client.get(CARD, params={"version": "v9"})
    assert missing.status_code == 404 and missing.json()["errors"][0]["field"] == "version"
    for params, field in (
        ({"format": "pdf"}, "format"),
        ({"windows": 0}, "windows"),
        ({"windows": 101}, "windows"),
    ):
        refused = reports_client.get(CARD, params=params)
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == field


def test_card_of_a_version_never_evaluated(reports_client: AppClient) -> None:
    assert reports_client.post("/v1/models", json=scenario.registration()).status_code == 201
    card = _get(reports_client, CARD)
    assert card["status"]["state"] == "not_evaluated" and card["windows"] == []
    assert card["reference"]["active"] is None and card["monitor"]["configured"] is False
    text = reports_client.get(CARD, params={"format": "markdown"}).text
    assert "No window evaluated yet." in text and "No reference uploaded." in text


def test_accept_header_negotiation(reports_client: AppClient) -> None:
    assert reports_client.post("/v1/models", json=scenario.registration()).status_code == 201
    cases = {
        "text/markdown": "text/markdown",
        "application/json": "application/json",
        "text/markdown;q=0.5, application/json": "application/json",
        "application/json;q=0.2, text/markdown": "text/markdown",
        "*/*": "application/json",
    }
    for accept, expected in cases.items():
        response = reports_client.get(CARD, headers={"Accept": accept})
        assert response.headers["content-type"].startswith(expected), accept
        assert response.headers["vary"] == "Accept"


def test_openapi_documents_the_card_and_the_report(reports_client: AppClient) -> None:
    document = _get(reports_client, "/openapi.json")
    assert "ModelCard" in document["components"]["schemas"]
    card = document["paths"]["/v1/models/{name}/card"]["get"]["responses"]["200"]["content"]
    assert card["application/json"]["schema"] == {"$ref": "#/components/schemas/ModelCard"}
    assert "example" in card["text/markdown"]
    report = document["paths"]["/v1/models/{name}/reports/drift"]["get"]
    assert list(report["responses"]["200"]["content"]) == ["text/html"]
    assert "example" in report["responses"]["200"]["content"]["text/html"]
    for status in ("404", "422", "503"):
        assert list(report["responses"][status]["content"]) == ["application/json"]
    assert {p["name"] for p in report["parameters"]} >= {"from", "to", "version", "sample", "seed"}


def test_markdown_escapes_client_text() -> None:
    assert text("a|b <script>*x*</script> [l](u) `c` #h & \\ _u_\nnext") == (
        "a\\|b \\<script\\>\\*x\\*\\</script\\> \\[l\\](u) \\`c\\` \\#h \\& \\\\ \\_u\\_ next"
    )
    assert text(None) == "—"
