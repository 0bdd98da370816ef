"""Event times a batch may carry: within the event horizon and the window grid (422 naming the
record and field, never a 500), and a bound on the window evaluations one batch schedules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import orjson
import pytest

from tests.asgi_client import AppClient
from tests.conftest import NOW
from tests.factories import outcome, prediction, registration

PREDICTIONS = "/v1/models/credit/predictions"
OUTCOMES = "/v1/models/credit/outcomes"
RECENT = (NOW - timedelta(hours=2)).isoformat()
# The timestamps: year 1 in UTC, and year 1 at +14:00 (before year 1 once in UTC).
YEAR_ONE = "0001-01-01T05:00:00Z"
YEAR_ONE_EAST = "0001-01-01T05:00:00+14:00"
YEAR_9999_WEST = "9999-12-31T20:00:00-14:00"


def _register(client: AppClient) -> AppClient:
    assert client.post("/v1/models", json=registration()).status_code == 201
    return client


@pytest.fixture
def registered(client: AppClient) -> AppClient:
    return _register(client)


def stored(client: AppClient) -> dict[str, int]:
    counts: dict[str, int] = client.get("/v1/models/credit").json()["counts"]
    return counts


def _only_error(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    errors: list[dict[str, Any]] = response.json()["errors"]
    assert len(errors) == 1, errors
    return errors[0]


@pytest.mark.slow
@pytest.mark.parametrize("moment", [YEAR_ONE, YEAR_ONE_EAST, YEAR_9999_WEST, "1899-12-31T23:59:59Z"])
def test_a_time_off_the_window_grid_is_a_422_naming_record_and_field(
    registered: AppClient, moment: str
) -> None:
    body = {"predictions": [prediction(0, timestamp=RECENT), prediction(1, timestamp=moment)]}
    error = _only_error(registered.post(PREDICTIONS, json=body))
    assert (error["index"], error["field"]) == (1, "timestamp")
    assert "window grid" in error["message"] or "older than" in error["message"]
    assert stored(registered)["predictions"] == 0


def test_a_time_before_the_event_horizon_is_refused_and_the_horizon_is_a_setting(
    client_with: Callable[..., AppClient],
) -> None:
    old = (NOW - timedelta(days=91)).isoformat()
    default = _register(client_with())
    error = _only_error(default.post(PREDICTIONS, json={"predictions": [prediction(0, timestamp=old)]}))
    assert (error["index"], error["field"]) == (0, "timestamp")
    assert "90-day event horizon" in error["message"]
    assert "earliest accepted: 2026-08-24T12:00:00Z" in error["message"]
    just_inside = (NOW - timedelta(days=89)).isoformat()
    accepted = default.post(PREDICTIONS, json={"predictions": [prediction(1, timestamp=just_inside)]})
    assert accepted.status_code == 200
    wider = client_with(event_horizon_days=120)
    assert wider.post(PREDICTIONS, json={"predictions": [prediction(0, timestamp=old)]}).status_code == 200
    narrower = client_with(retention_days=30)  # the horizon follows retention by default
    error = _only_error(narrower.post(PREDICTIONS, json={"predictions": [prediction(2, timestamp=old)]}))
    assert "30-day event horizon" in error["message"]


@pytest.mark.parametrize("moment", [YEAR_ONE, YEAR_ONE_EAST, (NOW - timedelta(days=100)).isoformat()])
def test_outcomes_and_ndjson_get_the_same_refusal(registered: AppClient, moment: str) -> None:
    body = {"outcomes": [outcome(0, timestamp=RECENT), outcome(1, timestamp=moment)]}
    error = _only_error(registered.post(OUTCOMES, json=body))
    assert (error["index"], error["field"]) == (1, "timestamp")
    lines = b"\n".join(
        orjson.dumps(r) for r in [prediction(0, timestamp=RECENT), prediction(1, timestamp=moment)]
    )
    response = registered.post(PREDICTIONS, content=lines, headers={"content-type": "application/x-ndjson"})
    error = _only_error(response)
    assert (error["index"], error["field"]) == (1, "timestamp")
    assert stored(registered) == {**stored(registered), "predictions": 0, "outcomes": 0}


@pytest.mark.slow
@pytest.mark.parametrize("moment", [YEAR_ONE_EAST, "0001-01-01T00:00:00Z"])
def test_time_parameters_off_the_grid_are_422(registered: AppClient, moment: str) -> None:
    listed = registered.get("/v1/models/credit/evaluations", params={"from": moment})
    assert listed.status_code == 422 and listed.json()["errors"][0]["field"] == "from"
    window = {"window_start": moment, "window_end": "2026-11-22T00:00:00Z"}
    assert registered.post("/v1/models/credit/evaluate", json=window).status_code == 422
    backtest = {"config": {}, "start": moment, "end": "2026-11-22T00:00:00Z"}
    response = registered.post("/v1/models/credit/monitor/backtest", json=backtest)
    assert response.status_code == 422 and "window grid" in response.text
    reference = {"reference": {"kind": "range", "start": moment, "end": "2026-11-22T00:00:00Z"}}
    response = registered.put("/v1/models/credit/monitor", json=reference)
    assert response.status_code == 422 and "window grid" in response.text
    silence = {"matchers": [{"name": "model", "value": "credit"}], "starts_at": moment, "duration": "1h"}
    response = registered.post("/v1/silences", json=silence | {"created_by": "a", "comment": "c"})
    assert response.status_code == 422 and "window grid" in response.text


def _days_apart(count: int, prefix: str = "p") -> list[dict[str, Any]]:
    return [
        prediction(i, prefix=prefix, timestamp=(NOW - timedelta(days=i + 1)).isoformat())
        for i in range(count)
    ]


def test_a_batch_spread_over_200_days_is_refused_saying_how_many_windows(
    client_with: Callable[..., AppClient],
) -> None:
    http = _register(client_with(event_horizon_days=365))
    error = _only_error(http.post(PREDICTIONS, json={"predictions": _days_apart(200)}))
    # 24 h windows stepping hourly: each day's bucket lies in 24 windows, 200 × 24 = 4,800.
    assert error["field"] == "timestamp"
    assert "4800 windows" in error["message"] and "1024" in error["message"]
    assert stored(http)["predictions"] == 0
    # 42 days: 42 × 24 = 1,008 windows ≤ 1,000 + the 24 of one bucket.
    assert http.post(PREDICTIONS, json={"predictions": _days_apart(42)}).status_code == 200
    smaller = client_with(event_horizon_days=365, max_batch_windows=10)
    error = _only_error(smaller.post(PREDICTIONS, json={"predictions": _days_apart(2, "q")}))
    assert "48 windows" in error["message"] and "34" in error["message"]
    one_day = [
        prediction(i, prefix="r", timestamp=(NOW - timedelta(minutes=i)).isoformat()) for i in range(300)
    ]
    assert smaller.post(PREDICTIONS, json={"predictions": one_day}).status_code == 200


def test_outcomes_joining_predictions_on_many_days_are_refused_and_nothing_is_stored(
    client_with: Callable[..., AppClient],
) -> None:
    http = _register(client_with(event_horizon_days=365, max_batch_windows=100))
    for first in range(0, 20, 4):  # 4 days per batch: 96 windows, within 100 + 24
        batch = [
            prediction(i, timestamp=(NOW - timedelta(days=i + 1)).isoformat())
            for i in range(first, first + 4)
        ]
        assert http.post(PREDICTIONS, json={"predictions": batch}).status_code == 200
    labels = {"outcomes": [outcome(i, timestamp=RECENT) for i in range(20)]}
    error = _only_error(http.post(OUTCOMES, json=labels))
    assert "the predictions they join fall in 480 windows" in error["message"]
    assert stored(http)["outcomes"] == 0
    assert (
        http.post(OUTCOMES, json={"outcomes": [outcome(i, timestamp=RECENT) for i in range(4)]}).status_code
        == 200
    )
