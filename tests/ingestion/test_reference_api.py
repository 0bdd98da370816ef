"""POST /v1/models/{name}/reference: stored per version, idempotent, replaced only explicitly."""

from __future__ import annotations

import pytest

from tests.asgi_client import AppClient
from tests.factories import reference_row, registration

URL = "/v1/models/credit/reference"


@pytest.fixture
def registered(client: AppClient) -> AppClient:
    client.post("/v1/models", json=registration())
    return client


def reference_rows(client: AppClient) -> dict[str, int]:
    return {
        v["version"]: v["reference_rows"] for v in client.get("/v1/models/credit").json()["version_counts"]
    }


def test_a_reference_is_stored_once_and_replaced_only_on_request(registered: AppClient) -> None:
    first = registered.post(URL, json={"rows": [reference_row(i) for i in range(100)]})
    assert first.status_code == 200
    body = first.json()
    assert (body["accepted"], body["rows"], body["version"], body["replaced"]) == (100, 100, "v1", False)
    same = registered.post(URL, json={"rows": [reference_row(i) for i in range(100)]}).json()
    assert (same["accepted"], same["duplicates"], same["content_hash"]) == (0, 100, body["content_hash"])
    other = {"rows": [reference_row(i) for i in range(50)]}
    refused = registered.post(URL, json=other)
    assert refused.status_code == 409
    assert "replace=true" in refused.json()["detail"]
    assert reference_rows(registered) == {"v1": 100}
    replaced = registered.post(URL, params={"replace": "true"}, json=other).json()
    assert (replaced["accepted"], replaced["replaced"]) == (50, True)
    assert reference_rows(registered) == {"v1": 50}


def test_reference_for_a_named_version(registered: AppClient) -> None:
    registered.post("/v1/models", json=registration(version="v2"))
    registered.post(URL, json={"version": "v1", "rows": [reference_row(0)]})
    assert reference_rows(registered) == {"v1": 1, "v2": 0}
    unknown = registered.post(URL, json={"version": "v7", "rows": [reference_row(0)]})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "version"


def test_bad_reference_rows_are_422_and_nothing_is_stored(registered: AppClient) -> None:
    rows = [reference_row(0), reference_row(1, label=5), reference_row(2, score=3.0)]
    del rows[0]["label"]
    response = registered.post(URL, json={"rows": rows})
    assert response.status_code == 422
    errors = {(e["index"], e["field"]) for e in response.json()["errors"]}
    assert errors == {(0, "label"), (1, "label"), (2, "score")}
    assert reference_rows(registered) == {"v1": 0}
