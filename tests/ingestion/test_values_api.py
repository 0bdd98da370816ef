"""Values at the edges of what is stored: magnitudes beyond 1e50, NaN text, Unicode NFC.

Every numeric entry point (features on the fast path and the slow one, regression
predictions and outcome values, scores, attributions, reference rows) refuses |x| > 1e50
with a 422 naming record and field; a NaN category or attribute value is null; a NaN class
label is a 422; text is stored in NFC, so two spellings of "é" are one value.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.asgi_client import AppClient
from tests.factories import outcome, prediction, reference_row, registration

PREDICTIONS = "/v1/models/credit/predictions"
OUTCOMES = "/v1/models/credit/outcomes"
REFERENCE = "/v1/models/credit/reference"
COMPOSED, DECOMPOSED = "caf\u00e9", "cafe\u0301"


@pytest.fixture
def registered(client: AppClient) -> AppClient:
    assert client.post("/v1/models", json=registration()).status_code == 201
    return client


@pytest.fixture
def regression(client: AppClient) -> AppClient:
    body = registration(name="amount", task="regression", positive_label=None)
    assert client.post("/v1/models", json=body).status_code == 201
    return client


def _errors(response: Any) -> set[tuple[int, str]]:
    assert response.status_code == 422, response.text
    payload = response.json()
    assert "nothing was stored" in payload["detail"]
    return {(e["index"], e["field"]) for e in payload["errors"]}


def _stored(client: AppClient, model: str = "credit") -> int:
    count: int = client.get(f"/v1/models/{model}").json()["counts"]["predictions"]
    return count


def test_magnitudes_beyond_1e50_are_refused_in_every_numeric_field(registered: AppClient) -> None:
    records = [
        prediction(0, features={**prediction(0)["features"], "num_00": 1e51}),  # float fast path
        prediction(1, features={**prediction(1)["features"], "num_01": -(10**60)}),  # integer
        prediction(2, attributions={"num_02": 2e50}),
        prediction(3, score=1e60),
        prediction(4, features={**prediction(4)["features"], "num_03": 1e50}),  # the limit itself: fine
    ]
    response = registered.post(PREDICTIONS, json={"predictions": records})
    assert _errors(response) == {
        (0, "features.num_00"),
        (1, "features.num_01"),
        (2, "attributions.num_02"),
        (3, "score"),
    }
    messages = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert messages["features.num_00"] == (
        "1e+51 is beyond ±1e+50, the largest magnitude modelmon stores (its sums must stay finite)"
    )
    assert messages["features.num_01"].startswith("-1e+60 is beyond")  # orjson reads it as a float
    assert _stored(registered) == 0
    assert registered.post(PREDICTIONS, json={"predictions": records[4:]}).json()["accepted"] == 1


def test_an_integer_beyond_1e50_read_by_the_fallback_parser_is_refused(registered: AppClient) -> None:
    text = orjson.dumps({"predictions": [prediction(0)]}).decode()
    text = text.replace('"num_00":0.0', f'"num_00":{10**400}', 1)  # beyond orjson: stdlib json reads an int
    response = registered.post(PREDICTIONS, content=text, headers={"content-type": "application/json"})
    assert _errors(response) == {(0, "features.num_00")}
    message = response.json()["errors"][0]["message"]
    assert (
        message
        == "an integer beyond ±1e+50, the largest magnitude modelmon stores (its sums must stay finite)"
    )


def test_regression_predictions_and_values_beyond_1e50_are_refused(regression: AppClient) -> None:
    record = prediction(0, prediction=1e300)
    del record["score"]
    response = regression.post("/v1/models/amount/predictions", json={"predictions": [record]})
    assert _errors(response) == {(0, "prediction")}
    value = {"prediction_id": "p0", "value": -3e200, "timestamp": "2026-11-10T00:00:00Z"}
    response = regression.post("/v1/models/amount/outcomes", json={"outcomes": [value]})
    assert _errors(response) == {(0, "value")}


def test_reference_rows_beyond_1e50_are_refused(registered: AppClient, regression: AppClient) -> None:
    rows = [reference_row(0), reference_row(1, attributions={"num_04": 1e99})]
    rows[0]["features"]["num_05"] = 1e200
    assert _errors(registered.post(REFERENCE, json={"rows": rows})) == {
        (0, "features.num_05"),
        (1, "attributions.num_04"),
    }
    row = reference_row(0, prediction=1.5, label=1e51)
    del row["score"]
    response = regression.post("/v1/models/amount/reference", json={"rows": [row]})
    assert _errors(response) == {(0, "label")}


def _with_nan(body: dict[str, Any], old: str, new: str) -> bytes:
    """The body as JSON with one value replaced by a bare NaN (what the stdlib parser reads)."""
    text = orjson.dumps(body).decode()
    assert old in text
    return text.replace(old, new, 1).encode()


def test_nan_category_and_attribute_values_are_missing(registered: AppClient) -> None:
    text = _with_nan({"predictions": [prediction(0)]}, '"cat_0":"c0"', '"cat_0":NaN')
    text = text.replace(b'"sex":"M"', b'"sex":NaN', 1)
    response = registered.post(PREDICTIONS, content=text, headers={"content-type": "application/json"})
    assert response.json() == {"accepted": 1, "duplicates": 0, "outcomes_joined": 0}
    # Stored as null: the same record with nulls is a duplicate, not a conflict.
    same = prediction(0)
    same["features"]["cat_0"] = None
    same["attributes"]["sex"] = None
    assert registered.post(PREDICTIONS, json={"predictions": [same]}).json()["duplicates"] == 1


def test_a_nan_class_label_is_a_clear_422(registered: AppClient) -> None:
    text = _with_nan({"predictions": [prediction(0)]}, '"prediction":0', '"prediction":NaN')
    response = registered.post(PREDICTIONS, content=text, headers={"content-type": "application/json"})
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["index"], error["field"]) == (0, "prediction")
    assert error["message"] == "NaN is not a class label; expected one of ['0', '1']"
    text = _with_nan({"outcomes": [outcome(0)]}, '"label":0', '"label":NaN')
    response = registered.post(OUTCOMES, content=text, headers={"content-type": "application/json"})
    assert _errors(response) == {(0, "label")}


def test_categories_are_stored_in_nfc(registered: AppClient) -> None:
    decomposed = prediction(0, attributes={"sex": DECOMPOSED, "age_band": "18-24"})
    decomposed["features"]["cat_1"] = DECOMPOSED
    assert registered.post(PREDICTIONS, json={"predictions": [decomposed]}).json()["accepted"] == 1
    composed = prediction(0, attributes={"sex": COMPOSED, "age_band": "18-24"})
    composed["features"]["cat_1"] = COMPOSED
    assert registered.post(PREDICTIONS, json={"predictions": [composed]}).json()["duplicates"] == 1


def test_class_labels_compare_in_nfc(client: AppClient) -> None:
    body = registration(
        name="drinks", task="multiclass_classification", positive_label=None, classes=[DECOMPOSED, "tea"]
    )
    assert client.post("/v1/models", json=body).status_code == 201
    assert client.get("/v1/models/drinks").json()["versions"][0]["classes"] == [COMPOSED, "tea"]
    records = [prediction(0, prediction=COMPOSED), prediction(1, prediction=DECOMPOSED)]
    for record in records:
        del record["score"]
    assert client.post("/v1/models/drinks/predictions", json={"predictions": records}).json()["accepted"] == 2
    label = outcome(0, label=DECOMPOSED)
    assert client.post("/v1/models/drinks/outcomes", json={"outcomes": [label]}).json()["accepted"] == 1
