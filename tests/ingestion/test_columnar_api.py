"""Parquet and Arrow IPC stream bodies on /predictions and /outcomes: the JSON contract, flat."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import create_engine, select

from service.config import Settings
from service.storage.event_tables import Outcome, Prediction
from service.storage.registry_tables import Model
from tests.asgi_client import AppClient
from tests.factories import outcome, prediction, registration
from tests.ingestion.columnar_bodies import ARROW_STREAM, PARQUET, body, encode, table_of

URL = "/v1/models/credit/predictions"
OUTCOMES = "/v1/models/credit/outcomes"
FORMATS = [PARQUET, ARROW_STREAM]


@pytest.fixture
def registered(client: AppClient) -> AppClient:
    assert client.post("/v1/models", json=registration()).status_code == 201
    return client


def post(client: AppClient, url: str, content: bytes, content_type: str) -> Any:
    return client.post(url, content=content, headers={"content-type": content_type})


def records(start: int, count: int, **overrides: Any) -> list[dict[str, Any]]:
    return [prediction(i, **overrides) for i in range(start, start + count)]


def stored_rows(settings: Settings, entity: Any, model: str) -> list[tuple[Any, ...]]:
    """Every stored column of ``model``'s rows but the row id, the model and version ids
    and the arrival time, by client id."""
    skip = {"id", "model_id", "version_id", "received_at"}
    columns = [c for c in entity.__table__.columns if c.name not in skip]
    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            model_id = connection.execute(select(Model.id).where(Model.name == model)).scalar_one()
            query = select(*columns).where(entity.model_id == model_id).order_by(entity.prediction_id)
            return [tuple(row) for row in connection.execute(query)]
    finally:
        engine.dispose()


@pytest.mark.parametrize("content_type", FORMATS)
def test_flat_rows_are_stored_exactly_as_the_same_json_records(
    client: AppClient, settings: Settings, content_type: str
) -> None:
    for name in ("credit", "twin"):
        assert client.post("/v1/models", json=registration(name=name)).status_code == 201
    sent = [*records(0, 40), prediction(40, subject_id="alice"), prediction(41, score=None)]
    sent[3]["features"]["num_02"] = None
    sent[5]["features"]["cat_1"] = None
    sent[7]["attributes"] = {"sex": None, "age_band": "45+"}
    assert client.post("/v1/models/twin/predictions", json={"predictions": sent}).status_code == 200
    response = post(client, URL, body(sent, content_type), content_type)
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 42, "duplicates": 0, "outcomes_joined": 0}
    flat_rows = stored_rows(settings, Prediction, "credit")
    assert len(flat_rows) == 42
    assert flat_rows == stored_rows(settings, Prediction, "twin")  # hashes and JSON documents too


@pytest.mark.parametrize("content_type", FORMATS)
def test_a_resend_is_all_duplicates_and_changed_content_is_409(
    registered: AppClient, content_type: str
) -> None:
    first = post(registered, URL, body(records(0, 20), content_type), content_type)
    assert first.json() == {"accepted": 20, "duplicates": 0, "outcomes_joined": 0}
    again = post(registered, URL, body(records(10, 20), content_type), content_type)
    assert again.json() == {"accepted": 10, "duplicates": 10, "outcomes_joined": 0}
    changed = records(0, 3)
    changed[2]["features"]["num_01"] = 123.5
    conflict = post(registered, URL, body(changed, content_type), content_type)
    assert conflict.status_code == 409
    [error] = conflict.json()["errors"]
    assert error["index"] == 2 and error["field"] == "id" and "features.num_01" in error["message"]
    assert registered.get("/v1/models/credit").json()["counts"]["predictions"] == 30


@pytest.mark.parametrize("content_type", FORMATS)
def test_bad_rows_are_422_naming_row_and_column_and_nothing_is_stored(
    registered: AppClient, content_type: str
) -> None:
    sent = records(0, 10)
    sent[4]["features"]["num_03"] = float("inf")
    sent[6]["prediction"] = 7
    sent[8]["attributes"]["sex"] = "x" * 300
    response = post(registered, URL, body(sent, content_type), content_type)
    assert response.status_code == 422
    errors = {(e["index"], e["field"]) for e in response.json()["errors"]}
    assert errors == {(4, "num_03"), (6, "prediction"), (8, "sex")}
    assert "3 of 10 records are invalid" in response.json()["detail"]
    assert registered.get("/v1/models/credit").json()["counts"]["predictions"] == 0


@pytest.mark.parametrize("content_type", FORMATS)
def test_unknown_missing_and_mistyped_columns_are_refused_by_name(
    registered: AppClient, content_type: str
) -> None:
    table = table_of(records(0, 5))
    table = table.append_column("colour", pa.array(["red"] * 5))
    table = table.drop_columns(["prediction"])
    at = table.column_names.index("num_00")
    table = table.set_column(at, "num_00", pa.array(["1.5"] * 5))
    response = post(registered, URL, encode(table, content_type), content_type)
    assert response.status_code == 422
    errors = {e["field"]: e for e in response.json()["errors"]}
    assert set(errors) == {"colour", "prediction", "num_00"}
    assert all(e["index"] is None for e in errors.values())
    assert "unknown column" in errors["colour"]["message"]
    assert "required column" in errors["prediction"]["message"]
    assert "expected numbers, got string" in errors["num_00"]["message"]


@pytest.mark.parametrize("content_type", FORMATS)
def test_a_timestamp_column_without_a_time_zone_is_refused(registered: AppClient, content_type: str) -> None:
    table = table_of(records(0, 3))
    naive = [datetime(2026, 11, 1, i) for i in range(3)]
    table = table.set_column(table.column_names.index("timestamp"), "timestamp", pa.array(naive))
    response = post(registered, URL, encode(table, content_type), content_type)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "timestamp" and "without a time zone" in error["message"]


@pytest.mark.parametrize("content_type", FORMATS)
def test_iso_text_timestamps_and_other_zones_are_the_same_instants(
    registered: AppClient, content_type: str
) -> None:
    sent = records(0, 4)
    as_text = table_of(sent)
    text = [prediction(i)["timestamp"] for i in range(4)]
    as_text = as_text.set_column(as_text.column_names.index("timestamp"), "timestamp", pa.array(text))
    assert post(registered, URL, encode(as_text, content_type), content_type).json()["accepted"] == 4
    zoned = table_of(sent)
    column = zoned.column("timestamp").cast(pa.timestamp("ns", tz="Asia/Kolkata"))
    zoned = zoned.set_column(zoned.column_names.index("timestamp"), "timestamp", column)
    assert post(registered, URL, encode(zoned, content_type), content_type).json()["duplicates"] == 4


@pytest.mark.parametrize("content_type", FORMATS)
def test_corrupt_bytes_are_400_and_never_500(registered: AppClient, content_type: str) -> None:
    good = body(records(0, 5), content_type)
    for corrupt in (b"not columnar at all", good[: len(good) // 2], b"PAR1" + b"\x00" * 64 + b"PAR1"):
        response = post(registered, URL, corrupt, content_type)
        assert response.status_code == 400, response.text
        assert "not a readable" in response.json()["detail"]


@pytest.mark.parametrize("content_type", FORMATS)
def test_outcomes_flat_and_a_prediction_table_sent_as_outcomes(
    registered: AppClient, settings: Settings, content_type: str
) -> None:
    post(registered, URL, body(records(0, 10), content_type), content_type)
    outcomes = [outcome(i) for i in range(0, 15)]
    response = post(registered, OUTCOMES, body(outcomes, content_type), content_type)
    assert response.json() == {"accepted": 15, "duplicates": 0, "joined": 10, "waiting": 5}
    again = post(registered, OUTCOMES, body(outcomes[:5], content_type), content_type)
    assert again.json()["duplicates"] == 5
    wrong = post(registered, OUTCOMES, body(records(0, 3), content_type), content_type)
    assert wrong.status_code == 422
    fields = {e["field"] for e in wrong.json()["errors"]}
    assert {"id", "prediction", "prediction_id", "label"} <= fields


def test_flat_outcomes_are_stored_as_json_outcomes(client: AppClient, settings: Settings) -> None:
    for name in ("credit", "twin"):
        client.post("/v1/models", json=registration(name=name))
    sent = [outcome(i) for i in range(20)]
    client.post("/v1/models/twin/outcomes", json={"outcomes": sent})
    assert post(client, OUTCOMES, body(sent, PARQUET), PARQUET).json()["accepted"] == 20
    assert stored_rows(settings, Outcome, "credit") == stored_rows(settings, Outcome, "twin")


@pytest.mark.parametrize("content_type", FORMATS)
def test_over_the_byte_limit_is_413_and_over_the_batch_size_is_422(
    client_with: Callable[..., AppClient], content_type: str
) -> None:
    client = client_with(max_body_bytes=4096, max_batch_size=50)
    client.post("/v1/models", json=registration())
    large = body(records(0, 40, prefix="a-rather-long-identifier-that-does-not-compress-"), content_type)
    assert len(large) > 4096
    assert post(client, URL, large, content_type).status_code == 413
    roomy = client_with(max_batch_size=50)
    many = post(roomy, URL, body(records(0, 60), content_type), content_type)
    assert many.status_code == 422 and "the limit is 50" in many.json()["detail"]


def test_integer_ids_and_categories_read_as_json_integers(registered: AppClient) -> None:
    sent = records(0, 5)
    for i, record in enumerate(sent):
        record["id"] = 1000 + i
        record["features"]["cat_0"] = i
    assert post(registered, URL, body(sent, PARQUET), PARQUET).json()["accepted"] == 5
    as_json = registered.post(URL, json={"predictions": sent})
    assert as_json.json() == {"accepted": 0, "duplicates": 5, "outcomes_joined": 0}


def test_the_openapi_document_lists_the_columnar_types(client: AppClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (URL, OUTCOMES):
        content = paths[path.replace("credit", "{name}")]["post"]["requestBody"]["content"]
        assert {PARQUET, ARROW_STREAM} <= set(content)


@pytest.mark.parametrize("content_type", FORMATS)
def test_text_that_cannot_be_stored_is_400_naming_the_column(
    registered: AppClient, content_type: str
) -> None:
    sent = records(0, 3)
    sent[1]["features"]["cat_2"] = "nul\x00inside"
    response = post(registered, URL, body(sent, content_type), content_type)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "cat_2"
