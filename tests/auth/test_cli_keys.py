"""`modelmon keys create|list|revoke`, and the first admin key of the embedded default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.app import create_app
from service.auth.commands import bootstrap_admin
from service.auth.keys import prefix_of
from service.config import Settings
from tests.asgi_client import app_client
from tests.auth.test_keys import bearer


def modelmon(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELMON_")}
    env["MODELMON_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def status(database_url: str, key: str, path: str = "/v1/models") -> int:
    app = create_app(Settings(database_url=database_url, run_jobs=False, admin_key=None))
    try:
        with app_client(app) as client:
            return client.get(path, headers=bearer(key)).status_code
    finally:
        app.state.context.engine.dispose()


@pytest.mark.slow
def test_create_prints_the_key_alone_on_its_last_line_then_list_and_revoke(database_url: str) -> None:
    created = modelmon(database_url, "keys", "create", "--role", "read", "--name", "grafana")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert prefix_of(key) is not None and key not in created.stderr
    assert status(database_url, key) == 200
    listed = modelmon(database_url, "keys", "list")
    assert str(prefix_of(key)) in listed.stdout and "grafana" in listed.stdout and key not in listed.stdout
    revoked = modelmon(database_url, "keys", "revoke", str(prefix_of(key)))
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert status(database_url, key) == 401
    audit_key = modelmon(database_url, "keys", "create", "--role", "admin").stdout.strip().splitlines()[-1]
    assert status(database_url, audit_key, "/v1/audit") == 200


@pytest.mark.slow
def test_bad_arguments_fail_with_the_reason(database_url: str) -> None:
    missing = modelmon(database_url, "keys", "create", "--role", "ingest")
    assert missing.returncode != 0 and "models: name at least one" in missing.stderr
    unknown = modelmon(database_url, "keys", "revoke", "mmk_nothere")
    assert unknown.returncode != 0 and "no API key with prefix" in unknown.stderr


@pytest.mark.slow
def test_the_embedded_default_starts_with_one_admin_key_printed_once(
    tmp_path: Path, sqlite_template: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'modelmon.db'}"
    (tmp_path / "modelmon.db").write_bytes(sqlite_template.read_bytes())
    settings = Settings(database_url=url, admin_key=None)
    bootstrap_admin(settings)
    printed = capsys.readouterr()
    key = next(line.strip() for line in printed.err.splitlines() if line.strip().startswith("mmk_"))
    assert printed.out == ""
    assert status(url, key, "/v1/keys") == 200
    bootstrap_admin(settings)  # a second start: an admin key exists, nothing is printed
    assert "mmk_" not in capsys.readouterr().err


@pytest.mark.slow
def test_production_and_postgres_never_make_a_key_by_themselves(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bootstrap_admin(Settings(database_url=postgres_url, admin_key=None))
    assert "mmk_" not in capsys.readouterr().err
