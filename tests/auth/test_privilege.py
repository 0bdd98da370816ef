"""Least privilege through a live `modelmon serve`: raw labelled records need the `export`
permission; read keys see webhook URLs redacted; the API docs load nothing from elsewhere."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest

from service.auth.guard import EXPORT_PATHS, Need, requirement
from tests.auth import AUTH_HEADERS
from tests.factories import outcome, prediction, registration
from tests.live import serve

pytestmark = pytest.mark.slow

EXPORT = "/v1/models/credit/export"


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[httpx.Client]:
    with (
        serve(database_url, tmp_path, MODELMON_AUTO_MIGRATE="true") as base,
        httpx.Client(base_url=base, timeout=30, headers=AUTH_HEADERS) as http,
    ):
        yield http


def _key(http: httpx.Client, role: str) -> dict[str, str]:
    response = http.post("/v1/keys", json={"role": role, "name": f"{role} of the test"})
    assert response.status_code == 201, response.text
    assert response.json()["role"] == role
    return {"Authorization": f"Bearer {response.json()['key']}"}


def _window(http: httpx.Client) -> dict[str, str]:
    """Ten labelled predictions of the last hour; the export window around them."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    stamp = [(start + timedelta(minutes=i)).isoformat() for i in range(10)]
    batch = [prediction(i, timestamp=stamp[i]) for i in range(10)]
    assert http.post("/v1/models", json=registration()).status_code == 201
    assert http.post("/v1/models/credit/predictions", json={"predictions": batch}).status_code == 200
    outcomes = [outcome(i, timestamp=stamp[i]) for i in range(10)]
    assert http.post("/v1/models/credit/outcomes", json={"outcomes": outcomes}).status_code == 200
    return {"from": start.isoformat(), "to": (start + timedelta(hours=1)).isoformat()}


def test_raw_labelled_records_need_the_export_permission(live: httpx.Client) -> None:
    window = _window(live)
    read, export = _key(live, "read"), _key(live, "export")
    refused = live.get(EXPORT, params=window, headers=read)
    assert refused.status_code == 403
    assert (
        "has role read" in refused.json()["detail"] and "needs export (or admin)" in refused.json()["detail"]
    )
    assert refused.json()["errors"][0]["field"] == "authorization"
    assert live.get("/v1/models/credit", headers=read).status_code == 200  # reading stays open
    for headers in (export, AUTH_HEADERS):
        rows = live.get(EXPORT, params=window, headers=headers)
        assert rows.status_code == 200 and len(rows.content.splitlines()) == 10
    # export reads as read does, and changes nothing
    assert live.get("/v1/alerts", headers=export).status_code == 200
    assert live.post("/v1/keys", json={"role": "admin", "name": "x"}, headers=export).status_code == 403
    assert live.get("/v1/audit", headers=export).status_code == 403


def test_read_keys_see_webhook_urls_without_their_token(live: httpx.Client) -> None:
    url = "http://127.0.0.1:9/hook?token=tok-live-5150"
    created = live.post("/v1/webhooks", json={"url": url, "events": ["alert.firing"]})
    assert created.status_code == 201 and created.json()["url"] == url
    read = _key(live, "read")
    listed = live.get("/v1/webhooks", headers=read)
    assert listed.json()["endpoints"][0]["url"] == "http://127.0.0.1:9/hook?token=REDACTED"
    assert "tok-live-5150" not in live.get("/v1/audit").text


def test_only_the_export_route_needs_export() -> None:
    assert {path for path in EXPORT_PATHS if requirement("GET", path) is Need.EXPORT} == EXPORT_PATHS
    assert requirement("GET", "/v1/models/{name}/evaluations") is Need.READ


def _references(html: str) -> list[str]:
    return re.findall(r"""(?:src|href|spec-url)=["']([^"']+)["']|url: ?'([^']+)'""", html)


def test_api_docs_load_nothing_from_another_host(sqlite_url: str, tmp_path: Path) -> None:
    with serve(sqlite_url, tmp_path) as base:
        _docs_load_nothing_from_another_host(base)


def _docs_load_nothing_from_another_host(base: str) -> None:
    loaded: set[str] = set()
    for page in ("/docs", "/redoc"):
        html = httpx.get(f"{base}{page}").text  # no key: the docs are open
        assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
        references = ["".join(pair) for pair in _references(html)]
        assert len(references) >= 3, html
        for reference in references:
            assert reference.startswith("/") and not reference.startswith("//"), reference
            loaded.add(reference)
    assert loaded >= {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css", "/openapi.json"}
    for reference in sorted(loaded):
        answer = httpx.get(f"{base}{reference}")
        assert answer.status_code == 200, reference
        if reference.endswith(".js"):
            assert answer.headers["content-type"].startswith("text/javascript")
            assert len(answer.content) > 1_000_000  # the whole bundle, not a loader
    assert httpx.get(f"{base}/docs/assets/..%2Fcore.py").status_code == 404
    assert "validatorUrl" in httpx.get(f"{base}/docs").text  # no badge from an online validator


def test_the_docs_assets_package_is_pinned() -> None:
    lock = (Path(__file__).resolve().parents[2] / "requirements.lock").read_text()
    assert f"fastapi-offline=={version('fastapi-offline')}\n" in lock
