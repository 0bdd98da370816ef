"""The edge middleware: the caller is judged before a body byte is read, every route has a
body limit, and configuration JSON that would break a parser is a 4xx naming the problem."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from service.edge.limits import CONFIGURATION_BODY_BYTES, SMALL_BODY_BYTES
from tests import factories
from tests.asgi_client import AppClient

NO_KEY = {"Authorization": ""}
JSON = {"content-type": "application/json"}


class CountingBody:
    """A streamed (chunked) request body that records how many chunks the server pulled."""

    def __init__(self, chunks: int, chunk: bytes = b"[" + b"{}," * 20_000) -> None:
        self.chunks = chunks
        self.chunk = chunk
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.pulled += 1
            yield self.chunk


def test_a_keyless_request_is_401_before_its_body_is_read(client: AppClient) -> None:
    body = CountingBody(chunks=100)  # 6 MiB of `[{},{},…`
    response = client.post("/v1/keys", content=body, headers={**NO_KEY, **JSON})
    assert response.status_code == 401
    assert response.json()["errors"][0]["field"] == "authorization"
    assert body.pulled == 0


def test_a_malformed_body_without_a_key_is_401_not_400(client: AppClient) -> None:
    response = client.post("/v1/keys", content=b"{", headers={**NO_KEY, **JSON})
    assert response.status_code == 401


def test_a_key_without_the_role_is_403_before_the_body_is_read(client: AppClient) -> None:
    client.post("/v1/models", json=factories.registration())
    created = client.post("/v1/keys", json={"role": "read", "name": "reader"})
    body = CountingBody(chunks=10)
    headers = {"Authorization": f"Bearer {created.json()['key']}", **JSON}
    response = client.post("/v1/keys", content=body, headers=headers)
    assert response.status_code == 403
    assert body.pulled == 0


def test_a_declared_length_over_an_admin_routes_limit_is_413_unread(client: AppClient) -> None:
    body = b'{"role": "read", "name": "' + b"x" * SMALL_BODY_BYTES + b'"}'
    response = client.post("/v1/keys", content=body, headers=JSON)
    assert response.status_code == 413
    assert f"the limit is {SMALL_BODY_BYTES} bytes" in response.json()["detail"]


def test_a_streamed_body_is_refused_at_the_first_chunk_past_the_limit(client: AppClient) -> None:
    body = CountingBody(chunks=1000, chunk=b" " * 16 * 1024)  # 16 MiB, no Content-Length
    response = client.post("/v1/webhooks", content=body, headers=JSON)
    assert response.status_code == 413
    assert body.pulled == SMALL_BODY_BYTES // (16 * 1024) + 1
    assert response.json()["error_count"] == 0


@pytest.mark.slow
def test_a_registration_may_be_larger_than_a_small_body(client: AppClient) -> None:
    features = [{"name": f"feature_{i:04d}", "type": "numeric"} for i in range(2000)]
    registration = factories.registration(features=features)
    response = client.post("/v1/models", json=registration)
    assert response.status_code == 201, response.text
    oversized = b" " * (CONFIGURATION_BODY_BYTES + 1)
    assert client.post("/v1/models", content=oversized, headers=JSON).status_code == 413


@pytest.mark.slow
def test_open_routes_stay_open_and_unknown_routes_stay_404(client: AppClient) -> None:
    assert client.get("/healthz", headers=NO_KEY).status_code == 200
    assert client.get("/docs", headers=NO_KEY).status_code == 200
    assert client.get("/openapi.json", headers=NO_KEY).status_code == 200
    assert client.get("/ui/login", headers=NO_KEY).status_code == 200
    assert client.get("/v1/nothing-here").status_code == 404
    assert client.request("DELETE", "/v1/models").status_code == 405


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"[" * 3000 + b"]" * 3000, "nested more than 1024 levels deep"),
        (b'{"name": ' + b"[" * 40 + b"]" * 40 + b"}", "nested 41 levels deep; at most 32"),
        (b'{"name": ' + b"9" * 5000 + b"}", "a number beyond the range of a 64-bit float"),
        (b'{"name": "\xff"}', "the body is not UTF-8 (byte 10)"),
    ],
)
def test_hostile_configuration_json_is_a_400_naming_the_problem(
    client: AppClient, body: bytes, says: str
) -> None:
    for url in ("/v1/keys", "/v1/models", "/v1/webhooks", "/v1/silences"):
        response = client.post(url, content=body, headers=JSON)
        assert response.status_code == 400, (url, response.text)
        assert says in response.json()["detail"], (url, response.json())


@pytest.mark.parametrize(
    "body", [b'{"name": -' + b"9" * 400 + b"}", b'{"name": NaN, "role": Infinity}', b'{"name": "\\ud800"}']
)
def test_json_only_python_reads_is_a_422_naming_the_field(client: AppClient, body: bytes) -> None:
    for url in ("/v1/keys", "/v1/models", "/v1/webhooks", "/v1/silences"):
        response = client.post(url, content=body, headers=JSON)
        assert response.status_code == 422, (url, response.text)
        assert "name" in {error["field"] for error in response.json()["errors"]}


def test_nul_in_any_configuration_string_is_a_422_naming_the_field(client: AppClient) -> None:
    response = client.post("/v1/keys", json={"role": "read", "name": "a\x00b"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "name"


def test_the_limit_of_ingestion_is_its_setting(client_with: Callable[..., AppClient]) -> None:
    client = client_with(max_body_bytes=100_000)
    client.post("/v1/models", json=factories.registration())
    batch = factories.predictions(0, 100)
    assert client.post("/v1/models/credit/predictions", json=batch).status_code == 200
    response = client.post("/v1/models/credit/predictions", json=factories.predictions(0, 1000))
    assert response.status_code == 413
    assert "the limit is 100000 bytes" in response.json()["detail"]


def test_a_streamed_batch_over_the_ingestion_limit_is_413_in_the_usual_shape(
    client_with: Callable[..., AppClient],
) -> None:
    client = client_with(max_body_bytes=100_000)
    client.post("/v1/models", json=factories.registration())
    body = CountingBody(chunks=100, chunk=b" " * 16 * 1024)  # 1.6 MiB, no Content-Length
    response = client.post("/v1/models/credit/predictions", content=body, headers=JSON)
    assert response.status_code == 413
    assert "the limit is 100000 bytes" in response.json()["detail"]
    assert body.pulled == 100_000 // (16 * 1024) + 1
