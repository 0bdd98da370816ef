"""Settings: defaults as documented, production mode refuses unsafe ones, clear CLI errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from service.config import Environment, Settings, UnsafeConfigurationError, check_production_safety

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_is_documented_with_its_default() -> None:
    text = README.read_text()
    for name, field in Settings.model_fields.items():
        variable = f"MODELMON_{name.upper()}"
        default = field.default.value if hasattr(field.default, "value") else field.default
        shown = (
            "(auto)"
            if default is None
            else str(default).lower()
            if isinstance(default, bool)
            else str(default)
        )
        row = re.search(rf"^\| `{variable}` \| `([^`]*)` \|", text, flags=re.MULTILINE)
        assert row is not None, f"{variable} is missing from the README's configuration table"
        assert row.group(1) == shown, (
            f"README says {variable} defaults to {row.group(1)}, the code says {shown}"
        )


def test_defaults_are_the_embedded_development_setup() -> None:
    settings = Settings(_env_file=None)
    assert settings.env is Environment.DEVELOPMENT
    assert settings.is_sqlite and settings.migrate_on_start
    check_production_safety(settings)  # development accepts everything


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELMON_PORT", "9100")
    monkeypatch.setenv("MODELMON_MAX_BATCH_SIZE", "500")
    settings = Settings()
    assert (settings.port, settings.max_batch_size) == (9100, 500)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("sqlite:///./modelmon.db", "SQLite"),
        ("postgresql+psycopg://modelmon@db/modelmon", "password"),
        ("postgresql+psycopg://modelmon:postgres@db/modelmon", "password"),
    ],
)
def test_production_refuses_unsafe_defaults(url: str, problem: str) -> None:
    settings = Settings(env=Environment.PRODUCTION, database_url=url)
    with pytest.raises(UnsafeConfigurationError, match=problem):
        check_production_safety(settings)


def test_production_accepts_a_real_database() -> None:
    check_production_safety(
        Settings(
            env=Environment.PRODUCTION,
            database_url="postgresql+psycopg://modelmon:s3cr3t-Xy@db/modelmon",
            pseudonym_key="0123456789abcdef0123456789abcdef",
        )
    )


def _modelmon(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_refuses_production_with_sqlite_and_says_why(tmp_path: Path) -> None:
    result = _modelmon({"MODELMON_ENV": "production", "PATH": ""}, "migrate")
    assert result.returncode != 0
    assert "refusing to start in production mode" in result.stderr and "SQLite" in result.stderr


def test_cli_names_an_invalid_variable(tmp_path: Path) -> None:
    result = _modelmon({"MODELMON_PORT": "eighty", "PATH": ""}, "migrate")
    assert result.returncode != 0
    assert "MODELMON_PORT" in result.stderr


def test_cli_migrate_builds_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = _modelmon({"MODELMON_DATABASE_URL": url, "PATH": ""}, "migrate")
    assert result.returncode == 0, result.stderr
    assert "schema is at head" in result.stderr
