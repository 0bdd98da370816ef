"""POST /v1/models/{name}/predictions: atomic batches, duplicates, conflicts, every kind of bad input."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest

from tests.asgi_client import AppClient
from tests.factories import prediction, predictions, registration

URL = "/v1/models/credit/predictions"


@pytest.fixture
def registered(client: AppClient) -> AppClient:
    assert client.post("/v1/models", json=registration()).status_code == 201
    return client


def stored(client: AppClient) -> int:
    count: int = client.get("/v1/models/credit").json()["counts"]["predictions"]
    return count


def test_a_batch_is_stored_and_counted(registered: AppClient) -> None:
    response = registered.post(URL, json=predictions(0, 50))
    assert response.status_code == 200
    assert response.json() == {"accepted": 50, "duplicates": 0, "outcomes_joined": 0}
    assert stored(registered) == 50


def test_a_resent_batch_is_all_duplicates_and_stored_once(registered: AppClient) -> None:
    registered.post(URL, json=predictions(0, 20))
    again = registered.post(URL, json=predictions(0, 20))
    assert again.json() == {"accepted": 0, "duplicates": 20, "outcomes_joined": 0}
    overlapping = registered.post(URL, json=predictions(10, 20))
    assert overlapping.json() == {"accepted": 10, "duplicates": 10, "outcomes_joined": 0}
    assert stored(registered) == 30


def test_an_identical_repeat_inside_one_batch_is_a_duplicate(registered: AppClient) -> None:
    body = {"predictions": [prediction(1), prediction(1), prediction(2)]}
    assert registered.post(URL, json=body).json() == {"accepted": 2, "duplicates": 1, "outcomes_joined": 0}


def test_integer_and_float_spellings_of_a_number_are_the_same_content(registered: AppClient) -> None:
    first = prediction(1)
    first["features"]["num_00"] = 7
    registered.post(URL, json={"predictions": [first]})
    first["features"]["num_00"] = 7.0
    assert registered.post(URL, json={"predictions": [first]}).json()["duplicates"] == 1


def test_same_id_different_content_is_a_409_naming_what_differs_and_stores_nothing(
    registered: AppClient,
) -> None:
    registered.post(URL, json=predictions(0, 5))
    changed = prediction(3, score=0.99)
    changed["features"]["cat_1"] = "other"
    body = {"predictions": [prediction(100), changed]}
    response = registered.post(URL, json=body)
    assert response.status_code == 409
    [error] = response.json()["errors"]
    assert error["index"] == 1 and error["field"] == "id"
    assert "features.cat_1" in error["message"] and "score" in error["message"]
    assert stored(registered) == 5  # prediction 100 was not stored either: the batch is atomic


def test_same_id_twice_in_a_batch_with_different_content_is_422(registered: AppClient) -> None:
    body = {"predictions": [prediction(1), prediction(1, score=0.5)]}
    response = registered.post(URL, json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["index"] == 1
    assert stored(registered) == 0


def _bad(index: int, field: str, record: dict[str, Any]) -> tuple[int, str, dict[str, Any]]:
    return index, field, record


def _without_feature() -> dict[str, Any]:
    record = prediction(0)
    del record["features"]["num_03"]
    return record


def _with(feature: str, value: Any) -> dict[str, Any]:
    record = prediction(0)
    record["features"][feature] = value
    return record


BAD_RECORDS = [
    ("unknown feature", "features.income2", lambda: _with("income2", 1.0), "unknown feature"),
    ("missing feature", "features.num_03", _without_feature, "missing feature"),
    ("wrong type numeric", "features.num_01", lambda: _with("num_01", "12"), "expected a number"),
    ("boolean as number", "features.num_01", lambda: _with("num_01", True), "expected a number"),
    ("wrong type categorical", "features.cat_0", lambda: _with("cat_0", 1.5), "expected a string"),
    ("naive timestamp", "timestamp", lambda: prediction(0, timestamp="2026-11-01T10:00:00"), "no timezone"),
    ("future timestamp", "timestamp", lambda: prediction(0, timestamp="2026-11-22T12:06:00Z"), "future"),
    ("not a timestamp", "timestamp", lambda: prediction(0, timestamp="yesterday"), "ISO 8601"),
    ("class outside the model's", "prediction", lambda: prediction(0, prediction=2), "not one of"),
    ("score above 1", "score", lambda: prediction(0, score=1.5), "outside [0, 1]"),
    ("score below 0", "score", lambda: prediction(0, score=-0.1), "outside [0, 1]"),
    ("unknown version", "version", lambda: prediction(0, version="v9"), "not registered"),
    (
        "unknown attribute",
        "attributes.race",
        lambda: prediction(0, attributes={"race": "x"}),
        "not a declared",
    ),
    ("unknown field", "feature", lambda: prediction(0, feature={}), "unknown field"),
    ("missing id", "id", lambda: {k: v for k, v in prediction(0).items() if k != "id"}, "required"),
    ("empty id", "id", lambda: prediction(0, id=""), "non-empty string"),
    (
        "attribution of unknown feature",
        "attributions.zzz",
        lambda: prediction(0, attributions={"zzz": 1}),
        "unknown feature",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("case", "field", "make", "fragment"), BAD_RECORDS, ids=[b[0] for b in BAD_RECORDS])
def test_each_bad_record_is_422_naming_index_and_field_and_nothing_is_stored(
    registered: AppClient, case: str, field: str, make: Callable[[], dict[str, Any]], fragment: str
) -> None:
    good = [prediction(i) for i in range(1, 4)]
    bad = make()
    bad["id"] = bad.get("id", "x") if case in ("missing id", "empty id") else "bad-1"
    if case == "missing id":
        del bad["id"]
    body = {"predictions": [*good[:2], bad, good[2]]}
    response = registered.post(URL, json=body)
    assert response.status_code == 422, response.text
    payload = response.json()
    assert payload["error_count"] == len(payload["errors"]) >= 1
    assert any(
        e["index"] == 2 and e["field"] == field and fragment in e["message"] for e in payload["errors"]
    ), payload
    assert "nothing was stored" in payload["detail"]
    assert stored(registered) == 0


def test_non_finite_numbers_are_named(registered: AppClient) -> None:
    text = orjson.dumps(predictions(0, 2)).decode().replace('"num_02":2.0', '"num_02":NaN', 1)
    response = registered.post(URL, content=text, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "index": 0,
            "field": "features.num_02",
            "message": "non-finite number nan; send null for a missing value",
        }
    ]
    text = orjson.dumps(predictions(0, 1)).decode().replace('"score":0.0', '"score":Infinity', 1)
    response = registered.post(URL, content=text, headers={"content-type": "application/json"})
    assert response.json()["errors"][0]["field"] == "score"


def test_null_feature_is_accepted_as_missing(registered: AppClient) -> None:
    body = {
        "predictions": [prediction(0, features={**prediction(0)["features"], "num_00": None, "cat_0": None})]
    }
    assert registered.post(URL, json=body).json()["accepted"] == 1


def test_every_error_is_listed_up_to_the_cap_with_the_total(client_with: Callable[..., AppClient]) -> None:
    client = client_with(max_errors_listed=5)
    client.post("/v1/models", json=registration())
    body = {"predictions": [prediction(i, score=2.0) for i in range(12)]}
    payload = client.post(URL, json=body).json()
    assert payload["error_count"] == 12 and len(payload["errors"]) == 5
    assert payload["detail"].startswith("12 of 12 records are invalid")


def test_empty_batch_is_422(registered: AppClient) -> None:
    response = registered.post(URL, json={"predictions": []})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "predictions"


def test_batch_over_the_size_limit_is_422(client_with: Callable[..., AppClient]) -> None:
    client = client_with(max_batch_size=10)
    client.post("/v1/models", json=registration())
    response = client.post(URL, json=predictions(0, 11))
    assert response.status_code == 422
    assert "limit is 10" in response.json()["detail"]


def test_body_over_the_byte_limit_is_413(client_with: Callable[..., AppClient]) -> None:
    client = client_with(max_body_bytes=4096)
    client.post("/v1/models", json=registration())
    response = client.post(URL, json=predictions(0, 20))
    assert response.status_code == 413
    assert "limit is 4096 bytes" in response.json()["detail"]


def test_body_over_the_limit_without_content_length_is_413(client_with: Callable[..., AppClient]) -> None:
    client = client_with(max_body_bytes=4096)
    client.post("/v1/models", json=registration())
    payload = orjson.dumps(predictions(0, 20))

    async def chunks() -> AsyncIterator[bytes]:  # streamed: no Content-Length header
        for start in range(0, len(payload), 1000):
            yield payload[start : start + 1000]

    response = client.post(URL, content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_malformed_json_is_400_with_the_position(registered: AppClient) -> None:
    response = registered.post(
        URL, content=b'{"predictions": [{"id": 1,}]}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "line 1, column 27 (byte 26)" in response.json()["detail"]


def test_wrong_top_level_shape_is_422(registered: AppClient) -> None:
    response = registered.post(URL, json=[prediction(0)])
    assert response.status_code == 422
    response = registered.post(URL, json={"prediction": [prediction(0)]})
    assert {e["field"] for e in response.json()["errors"]} == {"prediction", "predictions"}


def test_unsupported_content_type_is_415(registered: AppClient) -> None:
    response = registered.post(URL, content=b"id,timestamp", headers={"content-type": "text/csv"})
    assert response.status_code == 415


def test_unknown_model_is_404(client: AppClient) -> None:
    response = client.post("/v1/models/nobody/predictions", json=predictions(0, 1))
    assert response.status_code == 404
    assert "POST /v1/models" in response.json()["detail"]


def test_ndjson_is_accepted_and_malformed_lines_are_named(registered: AppClient) -> None:
    lines = b"\n".join(orjson.dumps(prediction(i)) for i in range(5)) + b"\n"
    response = registered.post(URL, content=lines, headers={"content-type": "application/x-ndjson"})
    assert response.json() == {"accepted": 5, "duplicates": 0, "outcomes_joined": 0}
    broken = lines + b'{"id": "p9"\n'
    response = registered.post(URL, content=broken, headers={"content-type": "application/x-ndjson"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("NDJSON line 6:")


def test_version_defaults_to_the_latest_and_can_be_named(registered: AppClient) -> None:
    v2 = registration(version="v2", features=registration()["features"][:3])
    registered.post("/v1/models", json=v2)
    old = prediction(0, version="v1")
    new = prediction(
        1,
        features={k: v for k, v in prediction(1)["features"].items() if k in ("num_00", "num_01", "num_02")},
    )
    assert registered.post(URL, json={"predictions": [old, new]}).json()["accepted"] == 2
    counts = {
        v["version"]: v["predictions"] for v in registered.get("/v1/models/credit").json()["version_counts"]
    }
    assert counts == {"v1": 1, "v2": 1}


def test_regression_and_multiclass_predictions(client: AppClient) -> None:
    client.post("/v1/models", json=registration(name="amount", task="regression", positive_label=None))
    ok = prediction(0, prediction=1234.5)
    del ok["score"]
    assert client.post("/v1/models/amount/predictions", json={"predictions": [ok]}).json()["accepted"] == 1
    bad = prediction(1, prediction="high")
    response = client.post("/v1/models/amount/predictions", json={"predictions": [bad]})
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"prediction", "score"}
    client.post(
        "/v1/models",
        json=registration(
            name="tiers", task="multiclass_classification", positive_label=None, classes=["a", "b", "c"]
        ),
    )
    multi = prediction(0, prediction="b", scores={"a": 0.1, "b": 0.7, "c": 0.2})
    del multi["score"]
    assert client.post("/v1/models/tiers/predictions", json={"predictions": [multi]}).json()["accepted"] == 1
    wrong = prediction(1, prediction="b", scores={"a": 0.1, "d": 0.7})
    errors = client.post("/v1/models/tiers/predictions", json={"predictions": [wrong]}).json()["errors"]
    assert {e["field"] for e in errors} == {"scores.d"}


def test_large_batches_count_duplicates_and_refuse_conflicts(registered: AppClient) -> None:
    # 100-row batches take Postgres's COPY path; a resend falls back to INSERT … ON CONFLICT.
    assert registered.post(URL, json=predictions(0, 100)).json()["accepted"] == 100
    mixed = registered.post(URL, json=predictions(50, 100)).json()
    assert mixed == {"accepted": 50, "duplicates": 50, "outcomes_joined": 0}
    conflicting = predictions(140, 80)
    conflicting["predictions"][5]["score"] = 0.123  # id p145 is stored with another score
    response = registered.post(URL, json=conflicting)
    assert response.status_code == 409
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(5, "id")]
    assert stored(registered) == 150


def test_concurrent_overlapping_batches_store_each_id_once(registered: AppClient) -> None:
    results: list[dict[str, int]] = []
    body = predictions(0, 200)

    def send() -> None:
        results.append(registered.post(URL, json=body).json())

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r["accepted"] for r in results) == 200
    assert sum(r["duplicates"] for r in results) == 600
    assert stored(registered) == 200


def test_a_lone_surrogate_escape_is_refused_with_its_field(registered: AppClient) -> None:
    text = orjson.dumps(predictions(0, 2)).decode().replace('"cat_0":"c1"', '"cat_0":"\\ud800"', 1)
    response = registered.post(URL, content=text, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith(
        "predictions[1].features.cat_0 holds a NUL character or a lone"
    )
    assert stored(registered) == 0


def test_a_nul_character_is_refused_with_its_field(registered: AppClient) -> None:
    text = orjson.dumps(predictions(0, 2)).decode().replace('"sex":"M"', '"sex":"M\\u0000"', 1)
    response = registered.post(URL, content=text, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("predictions[0].attributes.sex holds a NUL character")
    assert stored(registered) == 0


def test_integers_too_large_for_their_field_are_422(registered: AppClient) -> None:
    big = 10**400  # parsed by the fallback parser as a Python int
    text = orjson.dumps(predictions(0, 1)).decode()
    text = text.replace('"num_00":0.0', f'"num_00":{big}', 1).replace('"id":"p0"', f'"id":{10**30}', 1)
    response = registered.post(URL, content=text, headers={"content-type": "application/json"})
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"id", "features.num_00"}
