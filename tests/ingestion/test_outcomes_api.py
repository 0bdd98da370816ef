"""POST /v1/models/{name}/outcomes: joined by prediction id whichever arrives first."""

from __future__ import annotations

import pytest

from tests.asgi_client import AppClient
from tests.factories import outcome, predictions, registration

OUTCOMES = "/v1/models/credit/outcomes"
PREDICTIONS = "/v1/models/credit/predictions"


@pytest.fixture
def registered(client: AppClient) -> AppClient:
    client.post("/v1/models", json=registration())
    return client


def counts(client: AppClient) -> dict[str, int]:
    result: dict[str, int] = client.get("/v1/models/credit").json()["counts"]
    return result


def test_outcomes_before_and_after_their_predictions_are_all_joined(registered: AppClient) -> None:
    early = registered.post(OUTCOMES, json={"outcomes": [outcome(i) for i in range(0, 10)]})
    assert early.json() == {"accepted": 10, "duplicates": 0, "joined": 0, "waiting": 10}
    assert counts(registered)["outcomes_waiting"] == 10
    arrived = registered.post(PREDICTIONS, json=predictions(0, 20))
    assert arrived.json() == {"accepted": 20, "duplicates": 0, "outcomes_joined": 10}
    late = registered.post(OUTCOMES, json={"outcomes": [outcome(i) for i in range(10, 20)]})
    assert late.json() == {"accepted": 10, "duplicates": 0, "joined": 10, "waiting": 0}
    assert counts(registered) == {
        "predictions": 20,
        "outcomes": 20,
        "outcomes_joined": 20,
        "outcomes_waiting": 0,
    }


def test_a_resent_outcome_is_a_duplicate_and_a_changed_one_a_conflict(registered: AppClient) -> None:
    registered.post(OUTCOMES, json={"outcomes": [outcome(1)]})
    again = registered.post(OUTCOMES, json={"outcomes": [outcome(1)]})
    assert again.json() == {"accepted": 0, "duplicates": 1, "joined": 0, "waiting": 0}
    changed = registered.post(
        OUTCOMES, json={"outcomes": [outcome(2), outcome(1, label=1 - outcome(1)["label"])]}
    )
    assert changed.status_code == 409
    [error] = changed.json()["errors"]
    assert error["index"] == 1 and "label" in error["message"]
    assert counts(registered)["outcomes"] == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("record", "field", "fragment"),
    [
        (outcome(1, label=7), "label", "not one of"),
        (outcome(1, label=None), "label", "expected a class label"),
        (outcome(1, value=1.0), "value", "carry 'label'"),
        (outcome(1, timestamp="2026-11-01"), "timestamp", "no timezone"),
        ({"label": 1, "timestamp": "2026-11-01T00:00:00Z"}, "prediction_id", "required"),
        (outcome(1, extra=1), "extra", "unknown field"),
    ],
)
def test_bad_outcomes_are_422(
    registered: AppClient, record: dict[str, object], field: str, fragment: str
) -> None:
    response = registered.post(OUTCOMES, json={"outcomes": [outcome(0), record]})
    assert response.status_code == 422
    assert any(
        e["index"] == 1 and e["field"] == field and fragment in e["message"]
        for e in response.json()["errors"]
    )
    assert counts(registered)["outcomes"] == 0


def test_regression_outcomes_carry_a_value(client: AppClient) -> None:
    client.post("/v1/models", json=registration(name="amount", task="regression", positive_label=None))
    ok = client.post(
        "/v1/models/amount/outcomes", json={"outcomes": [outcome(1, label=None) | {"value": 10.5}]}
    )
    assert ok.status_code == 422  # "label" is not a regression field
    record = {"prediction_id": "p1", "value": 10.5, "timestamp": "2026-11-10T00:00:00Z"}
    assert client.post("/v1/models/amount/outcomes", json={"outcomes": [record]}).json()["accepted"] == 1
