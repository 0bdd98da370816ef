"""POST/GET /v1/models against a real database (SQLite and Postgres)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.asgi_client import AppClient
from tests.factories import registration


def test_registering_a_model_returns_its_canonical_version(client: AppClient) -> None:
    response = client.post("/v1/models", json=registration())
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "credit" and body["version"] == "v1"
    assert body["positive_label"] == "1" and body["classes"] == ["0", "1"]
    assert body["metadata"] == {"mlflow_run_id": "run-42", "owner": "risk-ml"}
    assert len(body["spec_hash"]) == 64
    assert body["created_at"].startswith("2026-11-22T12:00:00")


def test_reregistering_an_identical_version_is_idempotent(client: AppClient) -> None:
    first = client.post("/v1/models", json=registration()).json()
    again = client.post("/v1/models", json=registration())
    assert again.status_code == 200
    assert again.json() == first
    assert client.get("/v1/models/credit").json()["versions"] == [first]


def test_a_conflicting_version_is_409_naming_every_difference(client: AppClient) -> None:
    client.post("/v1/models", json=registration())
    changed = registration(positive_label=0, classes=[0, 1], metadata={"mlflow_run_id": "other"})
    response = client.post("/v1/models", json=changed)
    assert response.status_code == 409
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"positive_label", "metadata"}, response.json()
    assert "already registered" in response.json()["detail"]


def test_a_new_version_is_added_and_becomes_the_latest(client: AppClient) -> None:
    client.post("/v1/models", json=registration(version="v1"))
    assert client.post("/v1/models", json=registration(version="v2")).status_code == 201
    detail = client.get("/v1/models/credit").json()
    assert [v["version"] for v in detail["versions"]] == ["v1", "v2"]
    assert detail["latest_version"] == "v2"
    listing = client.get("/v1/models").json()["models"]
    assert listing == [
        {
            "name": "credit",
            "created_at": detail["created_at"],
            "latest_version": "v2",
            "versions": ["v1", "v2"],
        }
    ]


def test_unknown_model_is_404(client: AppClient) -> None:
    response = client.get("/v1/models/missing")
    assert response.status_code == 404
    assert "missing" in response.json()["detail"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"positive_label": None}, "positive_label", "needs positive_label"),
        ({"task": "multiclass_classification", "positive_label": None}, "classes", "needs classes"),
        ({"task": "regression"}, "positive_label", "no positive_label"),
        ({"classes": ["no", "yes"], "positive_label": "maybe"}, "classes", "must be one of classes"),
        ({"positive_label": "yes"}, "classes", "classes is required"),
        ({"features": []}, "features", "at least 1"),
        (
            {"features": [{"name": "a", "type": "numeric"}, {"name": "a", "type": "numeric"}]},
            "features",
            "twice",
        ),
        ({"protected_attributes": ["sex", "sex"]}, "protected_attributes", "twice"),
        ({"metadata": {"blob": "x" * 20_000}}, "metadata", "larger than"),
        ({"features": [{"name": "a", "type": "text"}]}, "features[0].type", "numeric"),
        ({"name": "bad name!"}, "name", "pattern"),
        ({"task": "ranking"}, "task", "binary_classification"),
        ({"surprise": 1}, "surprise", "Extra inputs"),
    ],
)
def test_invalid_registrations_are_422_naming_the_field(
    client: AppClient, overrides: dict[str, Any], field: str, fragment: str
) -> None:
    response = client.post("/v1/models", json=registration(**overrides))
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert any(error["field"] == field and fragment in error["message"] for error in errors), errors
    assert client.get("/v1/models").json() == {"models": []}


def test_multiclass_and_regression_register(client: AppClient) -> None:
    multi = registration(
        name="tiers", task="multiclass_classification", positive_label=None, classes=["a", "b", "c"]
    )
    assert client.post("/v1/models", json=multi).json()["classes"] == ["a", "b", "c"]
    reg = registration(name="amount", task="regression", positive_label=None)
    body = client.post("/v1/models", json=reg).json()
    assert body["task"] == "regression" and body["classes"] is None and body["positive_label"] is None


def test_malformed_bodies_and_unknown_routes_answer_in_the_standard_shape(client: AppClient) -> None:
    malformed = client.post(
        "/v1/models", content=b'{"name": 1,}', headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.json()["detail"].startswith("malformed JSON at line 1, column 11 (byte 10)")
    not_utf8 = client.post("/v1/models", content=b"\xff", headers={"content-type": "application/json"})
    assert not_utf8.status_code == 400
    assert set(not_utf8.json()) == {"detail", "errors", "error_count"}
    missing = client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not Found", "errors": [], "error_count": 0}
    wrong_method = client.request("DELETE", "/v1/models")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error_count"] == 0


def test_a_lone_surrogate_escape_in_a_registration_is_422_not_500(client: AppClient) -> None:
    body = (
        '{"name": "m", "version": "v1", "task": "regression", "features": [{"name": "a", "type": "numeric"}],'
    )
    body += ' "metadata": {"owner": "\\udb73"}}'
    response = client.post("/v1/models", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert (
        "metadata.owner holds a NUL character or a lone UTF-16 surrogate"
        in response.json()["errors"][0]["message"]
    )


def test_metadata_that_cannot_be_stored_is_422_not_500(client: AppClient) -> None:
    huge = registration(metadata={"seed": 10**30})
    response = client.post("/v1/models", json=huge)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "metadata"
    with_nul = registration(metadata={"owner": "risk\x00ml"})
    response = client.post("/v1/models", json=with_nul)
    assert response.status_code == 422
    assert "metadata.owner holds a NUL character" in response.json()["errors"][0]["message"]


def test_feature_and_attribute_names_not_in_nfc_are_refused(client: AppClient) -> None:
    """Names are refused rather than rewritten: the client must send the name it registered."""
    decomposed, composed = "cafe\u0301", "caf\u00e9"
    features = [{"name": decomposed, "type": "numeric"}]
    response = client.post("/v1/models", json=registration(features=features))
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "features[0].name"
    assert f"use its NFC spelling {composed!r}" in error["message"]
    response = client.post("/v1/models", json=registration(protected_attributes=["sex", decomposed]))
    assert {e["field"] for e in response.json()["errors"]} == {"protected_attributes[1]"}
    assert client.get("/v1/models").json() == {"models": []}
    ok = registration(features=[{"name": composed, "type": "numeric"}], protected_attributes=[composed])
    assert client.post("/v1/models", json=ok).status_code == 201
