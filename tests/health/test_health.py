"""/healthz and /readyz."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from service.app import create_app
from service.config import Settings
from tests.asgi_client import AppClient, app_client
from tests.factories import prediction, registration


def test_healthz_answers_without_the_database(client: AppClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_is_ready_when_the_schema_is_at_head(client: AppClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "schema": "0014"}


def test_readyz_is_503_on_an_unmigrated_database(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}"))
    with app_client(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert "modelmon migrate" in response.json()["schema"]


def test_readyz_is_503_when_the_database_is_unreachable() -> None:
    # Port 9 (discard) on loopback: nothing listens there, so the connection is refused at once.
    app = create_app(Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:9/none"))
    with app_client(app) as client:
        response = client.get("/readyz")
        assert client.get("/healthz").status_code == 200
    assert response.status_code == 503
    assert response.json()["database"].startswith("unreachable")


def test_writes_while_the_database_is_down_are_503_with_retry_after() -> None:
    app = create_app(Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:9/none"))
    with app_client(app) as client:
        response = client.post("/v1/models", json=registration())
        ingest = client.post("/v1/models/credit/predictions", json={"predictions": [prediction(0)]})
    for answer in (response, ingest):
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "5"
        assert "nothing was stored" in answer.json()["detail"]


@pytest.mark.slow
def test_serve_refuses_a_database_behind_the_schema(tmp_path: Path) -> None:
    env = {
        "MODELMON_DATABASE_URL": f"sqlite:///{tmp_path / 'old.db'}",
        "MODELMON_AUTO_MIGRATE": "false",
        "PATH": "",
    }
    result = subprocess.run(
        [sys.executable, "-m", "service", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "run `modelmon migrate` first" in result.stderr


def test_metrics_are_served_in_the_prometheus_text_format(client: AppClient) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    names = {line.split(" ")[2] for line in response.text.splitlines() if line.startswith("# TYPE ")}
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes", "python_info"} <= names
