"""Settings: defaults as documented, production mode refuses unsafe ones, clear CLI errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from service.config import (
    Environment,
    Settings,
    UnsafeConfigurationError,
    check_production_safety,
    environment_problems,
)
from service.secrecy import DEVELOPMENT_PSEUDONYM_KEY, PUBLIC_PASSWORDS

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
# Strong enough for production (secrecy.py's estimates: ~190 and ~130 bits).
STRONG_KEY = "kV3pX9qL2mZ7wR4tY8nB6cH1jF5gD0sA"
STRONG_PASSWORD = "Tq8-zW3m.Rk5_vN2xP7"
PRODUCTION_URL = f"postgresql+psycopg://modelmon:{STRONG_PASSWORD}@db/modelmon"


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


def _production(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": Environment.PRODUCTION,
        "database_url": PRODUCTION_URL,
        "pseudonym_key": STRONG_KEY,
        "secret_key": STRONG_KEY[::-1],
    }
    return Settings(**{**values, **overrides})  # type: ignore[arg-type]


def test_production_accepts_a_real_database() -> None:
    check_production_safety(_production())


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"pseudonym_key": "x" * 40}, "MODELMON_PSEUDONYM_KEY is too weak: 1 distinct characters in 40"),
        ({"pseudonym_key": "ab" * 20}, "MODELMON_PSEUDONYM_KEY is too weak: 2 distinct characters in 40"),
        ({"pseudonym_key": DEVELOPMENT_PSEUDONYM_KEY}, "MODELMON_PSEUDONYM_KEY is a public development key"),
        ({"admin_key": "0" * 32}, "MODELMON_ADMIN_KEY is too weak"),
        ({"secret_key": None}, "MODELMON_SECRET_KEY is not set"),
        ({"secret_key": "secret" * 6}, "MODELMON_SECRET_KEY is too weak"),
        ({"database_url": "postgresql+psycopg://m:s3cr3t-Xy@db/m"}, "MODELMON_DATABASE_URL is too weak"),
        (
            {"migration_database_url": "postgresql+psycopg://owner:postgres@db/m"},
            "MODELMON_MIGRATION_DATABASE_URL has no password or a public one",
        ),
    ],
)
def test_production_refuses_weak_and_public_secrets(overrides: dict[str, object], problem: str) -> None:
    with pytest.raises(UnsafeConfigurationError, match=re.escape(problem)):
        check_production_safety(_production(**overrides))


def _sample_passwords() -> set[str]:
    """Every default password written in compose files and their init scripts: `${X:-value}`."""
    texts = [(REPO / "docker-compose.yml").read_text()]
    texts += [path.read_text() for path in sorted((REPO / "docker").rglob("*.sh"))]
    found = {
        value for text in texts for variable, value in re.findall(r"\$\{(\w*PASSWORD\w*):-([^}]*)\}", text)
    }
    assert found, "no sample password found: has the compose file changed its syntax?"
    return found


@pytest.mark.parametrize("password", sorted(_sample_passwords()))
def test_production_refuses_every_sample_password_of_compose(password: str) -> None:
    assert password in PUBLIC_PASSWORDS
    url = f"postgresql+psycopg://modelmon:{password}@postgres:5432/modelmon"
    with pytest.raises(UnsafeConfigurationError, match="public one"):
        check_production_safety(_production(database_url=url))


def _documented_passwords() -> set[str]:
    """Every password written in a database URL of the README, the docs and the chart."""
    paths = [README, *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "helm").rglob("*.y*ml"))]
    pattern = r"postgresql\+psycopg://[^:/\s]+:([^@\s]+)@"
    found = {password for path in paths for password in re.findall(pattern, path.read_text())}
    assert found, "no database URL with a password found in the docs: has the pattern changed?"
    return found


@pytest.mark.parametrize("password", sorted(_documented_passwords()))
def test_production_refuses_every_password_the_docs_show(password: str) -> None:
    url = f"postgresql+psycopg://modelmon:{password}@db:5432/modelmon"
    with pytest.raises(UnsafeConfigurationError, match="MODELMON_DATABASE_URL"):
        check_production_safety(_production(database_url=url))


def test_unknown_variables_warn_in_development_and_are_refused_in_production() -> None:
    environ = {"MODELMON_ENVIRONMENT": "production", "MODELMON_KEY": "mmk_client", "MODELMON_PORT": "1"}
    warnings = environment_problems(Settings(), environ)
    assert warnings == ["MODELMON_ENVIRONMENT is not a setting of modelmon; did you mean MODELMON_ENV?"]
    with pytest.raises(UnsafeConfigurationError, match="MODELMON_ENVIRONMENT is not a setting"):
        environment_problems(_production(), environ)


def _modelmon(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_cli_refuses_production_with_sqlite_and_says_why(tmp_path: Path) -> None:
    result = _modelmon({"MODELMON_ENV": "production", "PATH": ""}, "migrate")
    assert result.returncode != 0
    assert "refusing to start in production mode" in result.stderr and "SQLite" in result.stderr


@pytest.mark.slow
def test_cli_warns_of_a_mistyped_variable_and_production_refuses_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    typo = {"MODELMON_DATABASE_URL": url, "MODELMON_ENVIRONMENT": "production", "PATH": ""}
    result = _modelmon(typo, "migrate")
    assert result.returncode == 0, result.stderr
    assert "WARNING" in result.stderr and "did you mean MODELMON_ENV?" in result.stderr
    production = {**typo, "MODELMON_ENV": "production", "MODELMON_DATABASE_URL": PRODUCTION_URL}
    production |= {"MODELMON_PSEUDONYM_KEY": STRONG_KEY, "MODELMON_SECRET_KEY": STRONG_KEY[::-1]}
    refused = _modelmon(production, "migrate")
    assert refused.returncode != 0
    assert "MODELMON_ENVIRONMENT is not a setting of modelmon; did you mean MODELMON_ENV?" in refused.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("MODELMON_PSEUDONYM_KEY", "k" * 40, "is too weak: 1 distinct characters in 40"),
        ("MODELMON_PSEUDONYM_KEY", DEVELOPMENT_PSEUDONYM_KEY, "is a public development key"),
        (
            "MODELMON_DATABASE_URL",
            "postgresql+psycopg://modelmon:dev-only-insecure@postgres:5432/modelmon",
            "has no password or a public one",
        ),
    ],
)
def test_serve_refuses_to_start_in_production_with_a_weak_or_public_secret(
    variable: str, value: str, problem: str
) -> None:
    environment = {
        "PATH": "",
        "MODELMON_ENV": "production",
        "MODELMON_DATABASE_URL": PRODUCTION_URL,
        "MODELMON_PSEUDONYM_KEY": STRONG_KEY,
        "MODELMON_SECRET_KEY": STRONG_KEY[::-1],
        variable: value,
    }
    result = _modelmon(environment, "serve")
    assert result.returncode != 0
    assert "refusing to start in production mode" in result.stderr
    assert f"{variable} {problem}" in result.stderr


@pytest.mark.slow
def test_cli_names_an_invalid_variable(tmp_path: Path) -> None:
    result = _modelmon({"MODELMON_PORT": "eighty", "PATH": ""}, "migrate")
    assert result.returncode != 0
    assert "MODELMON_PORT" in result.stderr


@pytest.mark.slow
def test_cli_migrate_builds_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = _modelmon({"MODELMON_DATABASE_URL": url, "PATH": ""}, "migrate")
    assert result.returncode == 0, result.stderr
    assert "schema is at head" in result.stderr
