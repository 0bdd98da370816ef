"""API keys and roles on every route: 401 versus 403, model scopes, revocation, the cookie."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, text

from service.auth.guard import INGEST_PATHS, Need, requirement
from service.auth.keys import generate_key, hash_key, prefix_of
from tests import factories
from tests.asgi_client import AppClient
from tests.auth import TEST_ADMIN_KEY


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def make_key(client: AppClient, role: str, models: list[str] | None = None) -> str:
    body: dict[str, object] = {"role": role, "name": f"{role} test"}
    if models is not None:
        body["models"] = models
    response = client.post("/v1/keys", json=body)
    assert response.status_code == 201, response.text
    key = response.json()["key"]
    assert isinstance(key, str)
    return key


@pytest.fixture
def registered(client: AppClient) -> AppClient:
    for name in ("credit", "fraud"):
        assert client.post("/v1/models", json=factories.registration(name)).status_code == 201
    return client


def test_a_request_without_a_key_is_401_and_says_how_to_send_one(registered: AppClient) -> None:
    response = registered.get("/v1/models", headers={"Authorization": ""})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["errors"][0]["field"] == "authorization"
    response = registered.get("/v1/models", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert response.status_code == 401 and "Bearer" in response.json()["detail"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("not-a-key", "malformed"),
        ("mmk_AAAAAAAA" + "B" * 32, "unknown API key mmk_AAAAAAAA"),
        (TEST_ADMIN_KEY[:-1] + "X", "malformed"),
        ("mmk_AAAAAAAA" + "B" * 31 + "-", "unknown API key"),
    ],
)
def test_bad_keys_are_401_naming_the_problem_not_the_key(registered: AppClient, key: str, says: str) -> None:
    response = registered.get("/v1/models", headers=bearer(key))
    assert response.status_code == 401
    assert says in response.json()["detail"]
    assert key not in response.text or len(key) < 12


@pytest.mark.slow
def test_roles_decide_what_each_key_may_do(registered: AppClient) -> None:
    read = make_key(registered, "read")
    ingest = make_key(registered, "ingest", ["credit"])
    batch = factories.predictions(0, 2)
    assert registered.get("/v1/models", headers=bearer(read)).status_code == 200
    refused = registered.post("/v1/models/credit/predictions", json=batch, headers=bearer(read))
    assert refused.status_code == 403 and "has role read" in refused.json()["detail"]
    assert registered.put("/v1/models/credit/monitor", json={}, headers=bearer(read)).status_code == 403
    assert (
        registered.post("/v1/models/credit/predictions", json=batch, headers=bearer(ingest)).status_code
        == 200
    )
    other = registered.post("/v1/models/fraud/predictions", json=batch, headers=bearer(ingest))
    assert other.status_code == 403
    assert "may ingest for credit, not 'fraud'" in other.json()["detail"]
    assert registered.get("/v1/models", headers=bearer(ingest)).status_code == 403
    outcomes = {"outcomes": [factories.outcome(0)]}
    assert (
        registered.post("/v1/models/credit/outcomes", json=outcomes, headers=bearer(ingest)).status_code
        == 200
    )
    assert registered.get("/v1/keys", headers=bearer(read)).status_code == 403
    assert registered.get("/v1/audit", headers=bearer(read)).status_code == 403


@pytest.mark.slow
def test_a_revoked_key_stops_at_once_and_the_answer_says_when(registered: AppClient) -> None:
    key = make_key(registered, "read")
    assert registered.get("/v1/models", headers=bearer(key)).status_code == 200
    assert registered.delete(f"/v1/keys/{prefix_of(key)}").status_code == 200
    response = registered.get("/v1/models", headers=bearer(key))
    assert response.status_code == 401 and "was revoked at" in response.json()["detail"]
    again = registered.delete(f"/v1/keys/{prefix_of(key)}")
    assert again.status_code == 409
    assert registered.delete("/v1/keys/mmk_ZZZZZZZZ").status_code == 404


@pytest.mark.slow
def test_keys_are_stored_hashed_listed_by_prefix_with_last_use(
    registered: AppClient, database_url: str
) -> None:
    key = make_key(registered, "read")
    registered.get("/v1/models", headers=bearer(key))
    listed = registered.get("/v1/keys").json()["keys"]
    (row,) = [item for item in listed if item["prefix"] == prefix_of(key)]
    assert row["last_used_at"] is not None and "key" not in row
    assert key not in registered.get("/v1/keys").text
    engine = create_engine(database_url)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT key_hash, prefix, name FROM api_keys")).all()
    engine.dispose()
    assert (hash_key(key), prefix_of(key), "read test") in [tuple(row) for row in stored]
    assert all(key not in str(tuple(row)) for row in stored)


@pytest.mark.slow
def test_ingest_keys_must_name_models_and_other_roles_must_not(client: AppClient) -> None:
    response = client.post("/v1/keys", json={"role": "ingest", "name": "svc"})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "models"
    response = client.post("/v1/keys", json={"role": "read", "name": "r", "models": ["credit"]})
    assert response.status_code == 422
    response = client.post("/v1/keys", json={"role": "owner", "name": "x"})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "role"


def test_a_key_in_a_cookie_is_no_credential(registered: AppClient) -> None:
    # Versions before sessions kept the key in `modelmon_key`; it opens nothing now.
    cookie = {"Cookie": f"modelmon_key={TEST_ADMIN_KEY}", "Authorization": ""}
    assert registered.get("/v1/models", headers=cookie).status_code == 401
    assert registered.get("/ui", headers=cookie).status_code == 303
    batch = factories.predictions(0, 1)
    assert registered.post("/v1/models/credit/predictions", json=batch, headers=cookie).status_code == 401
    assert requirement("GET", "/ui") is Need.READ
    assert requirement("POST", "/ui/login") is Need.OPEN


@pytest.mark.slow
def test_health_and_metrics_are_open_and_everything_else_is_not(registered: AppClient) -> None:
    spec = registered.get("/openapi.json").json()
    open_routes = {
        path
        for path, operations in spec["paths"].items()
        for method in operations
        if requirement(method.upper(), path) is Need.OPEN
    }
    assert open_routes == {"/healthz", "/readyz"}
    assert set(spec["paths"]) >= INGEST_PATHS
    anonymous = {"Authorization": ""}
    for path in ("/healthz", "/readyz", "/metrics"):
        assert registered.get(path, headers=anonymous).status_code == 200, path
    for path in spec["paths"]:
        if path not in open_routes and "{" not in path:
            assert registered.get(path, headers=anonymous).status_code in (401, 405), path


def test_keys_never_reach_the_logs(registered: AppClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key = make_key(registered, "read")
    registered.get("/v1/models", headers=bearer(key))
    registered.get("/v1/models", headers=bearer(key[:-1] + "Q"))
    registered.get("/v1/models", headers=bearer(TEST_ADMIN_KEY))
    assert key not in caplog.text and TEST_ADMIN_KEY not in caplog.text


def test_generated_keys_are_random_and_well_formed() -> None:
    keys = {generate_key().key for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert prefix_of(key) == key[:12] and len(key) == 44 and key.isascii()


def test_with_auth_off_every_route_is_open(client_with: Callable[..., AppClient]) -> None:
    client = client_with(auth=False)
    assert client.get("/v1/models", headers={"Authorization": ""}).status_code == 200
