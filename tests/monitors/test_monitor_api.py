"""The monitor configuration, evaluations, evaluate and backtest endpoints: defaults and errors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.asgi_client import AppClient
from tests.windows import scenario

MONITOR = "/v1/models/credit/monitor"


@pytest.fixture
def registered(client: AppClient) -> AppClient:
    assert client.post("/v1/models", json=scenario.registration()).status_code == 201
    return client


def test_a_model_without_configuration_is_monitored_on_the_defaults(registered: AppClient) -> None:
    body = registered.get(MONITOR).json()
    assert body["configured"] is False and body["updated_at"] is None
    config = body["config"]
    assert (config["window"], config["step"], config["bucket"]) == ("1d", "1h", "5m")
    assert config["reference"] == {"kind": "uploaded", "start": None, "end": None}
    assert config["label_coverage"] == 0.8 and config["label_wait"] == "14d"
    assert body["status"]["layouts"] == [] and body["status"]["pending_windows"] == 0


def test_a_saved_configuration_is_answered_back_normalised(registered: AppClient) -> None:
    saved = registered.put(MONITOR, json={"window": 21600, "step": "6h", "drift": {"features": ["income"]}})
    assert saved.status_code == 200, saved.text
    body = registered.get(MONITOR).json()
    assert body["configured"] is True
    assert (body["config"]["window"], body["config"]["step"]) == ("6h", "6h")
    assert body["config"]["drift"]["features"] == ["income"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"bucket": "7m"}, "bucket"),
        ({"window": "1h", "step": "2h"}, "body"),
        ({"window": "25x"}, "window"),
        ({"label_coverage": 0}, "label_coverage"),
        ({"reference": {"kind": "range"}}, "reference"),
        ({"drift": {"alpha": 2}}, "drift.alpha"),
        ({"performance": {"thresholds": {"accuracy": {}}}}, "performance.thresholds.accuracy"),
        ({"fairness": {"intersections": [["sex"]]}}, "fairness.intersections"),
        ({"colour": "blue"}, "colour"),
        ({"drift": {"features": ["salary"]}}, "drift.features.0"),
        ({"fairness": {"intersections": [["sex", "religion"]]}}, "fairness.intersections.0"),
    ],
)
def test_an_invalid_configuration_is_refused_naming_the_field(
    registered: AppClient, config: dict[str, Any], field: str
) -> None:
    response = registered.put(MONITOR, json=config)
    assert response.status_code == 422, response.text
    fields = [e["field"] for e in response.json()["errors"]]
    assert any(f == field or f.startswith(field + ".") for f in fields), fields
    assert registered.get(MONITOR).json()["configured"] is False  # nothing saved


@pytest.mark.slow
def test_unknown_models_answer_404_everywhere(client: AppClient) -> None:
    cases: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "/v1/models/ghost/monitor", None),
        ("PUT", "/v1/models/ghost/monitor", {}),
        ("GET", "/v1/models/ghost/evaluations", None),
        ("POST", "/v1/models/ghost/evaluate", {}),
    ]
    for method, url, body in cases:
        response = client.request(method, url, json=body)
        assert response.status_code == 404, (url, response.text)
        assert "ghost" in response.json()["detail"]


def test_evaluating_before_any_bins_exist_says_what_is_missing(registered: AppClient) -> None:
    response = registered.post("/v1/models/credit/evaluate", json={})
    assert response.status_code == 404
    assert "reference" in response.json()["detail"]


def test_evaluation_queries_are_validated(registered: AppClient) -> None:
    url = "/v1/models/credit/evaluations"
    assert registered.get(url).json() == {"items": [], "count": 0, "next_offset": None}
    cases = [
        ({"family": "vibes"}, "family"),
        ({"from": "2026-11-01T00:00:00"}, "from"),
        ({"version": "v9"}, "version"),
        ({"limit": "0"}, "limit"),
        ({"revisions": "some"}, "revisions"),
    ]
    for params, field in cases:
        response = registered.get(url, params=params)
        assert response.status_code == 422, (params, response.text)
        assert field in [e["field"] for e in response.json()["errors"]], response.json()


@pytest.mark.slow
def test_on_demand_and_backtest_refuse_windows_off_the_grid_or_too_many(registered: AppClient) -> None:
    reference = registered.post("/v1/models/credit/reference", json={"rows": scenario.reference()})
    assert reference.status_code == 200
    now = registered.post("/v1/models/credit/evaluate", json={})  # folds, fits the bins, evaluates
    assert now.status_code == 200, now.text
    body = now.json()
    assert body["rows"] == 0 and body["stored"] is False
    assert {i["status"] for i in body["items"] if i["family"] == "drift"} == {"insufficient_data"}
    off_grid = {"window_start": "2026-11-21T00:00:00Z", "window_end": "2026-11-21T10:07:00Z"}
    response = registered.post("/v1/models/credit/evaluate", json=off_grid)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["window_end"]
    backwards = {"window_start": "2026-11-21T10:00:00Z", "window_end": "2026-11-21T00:00:00Z"}
    assert registered.post("/v1/models/credit/evaluate", json=backwards).status_code == 422
    url = "/v1/models/credit/monitor/backtest"
    span = {"start": "2026-01-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"}
    too_many = registered.post(url, json={"config": {"window": "1h", "step": "1h"}, **span})
    assert too_many.status_code == 422 and too_many.json()["errors"][0]["field"] == "end"
    finer = registered.post(url, json={"config": {"bucket": "1m", "window": "1d", "step": "1d"}, **span})
    assert finer.status_code == 422 and finer.json()["errors"][0]["field"] == "config.bucket"
    fine = registered.post(url, json={"config": {"window": "1d", "step": "1d"}, **span})
    assert fine.status_code == 200 and fine.json()["evaluated"] == 304
