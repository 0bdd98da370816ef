"""The client is its own distribution: its sdist, installed into an empty virtual environment,
gives ``modelmon_client`` with httpx and none of the server's dependencies.

The sdist is built from the repository and the wheel from that sdist alone (hatchling and httpx
come from the package index pip is configured with), so the test proves what a model team gets
from a package index, not what this venv has.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

# Building the sdist, its wheel and a venv takes ~7 s on two shared cores.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

# The server's heavy dependencies, and the server itself: none may be importable beside the client.
SERVER_ONLY = ("fastapi", "sqlalchemy", "pandas", "evidently", "alembic", "numpy", "service")

PROBE = f"""
import importlib.util, json
import modelmon_client
from modelmon_client import AsyncMonitor, Counters, InvalidRecord, Monitor
print(json.dumps({{
    "exports": sorted(modelmon_client.__all__),
    "present": [name for name in {SERVER_ONLY!r} if importlib.util.find_spec(name)],
}}))
"""


@pytest.fixture(scope="module")
def client_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a fresh venv holding only the client and what it depends on."""
    home = tmp_path_factory.mktemp("client-venv")
    # No pip of its own (ensurepip costs ~4 s): this venv's pip installs into it (`--python`,
    # pip ≥ 22.3), as the venv's own pip would.
    venv.EnvBuilder(with_pip=False).create(home)
    python = home / "bin" / "python"
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
    install.append("--disable-pip-version-check")
    # Through the sdist, as a package index would serve it: building the wheel from the sdist
    # alone proves the sdist holds the code (in a checkout it lives in ../service/client).
    subprocess.run([*install, "hatchling"], check=True, capture_output=True, timeout=300)
    dist = home / "dist"
    build = f"from hatchling.build import build_sdist; print(build_sdist({str(dist)!r}))"
    built = subprocess.run(
        [str(python), "-I", "-c", build],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO / "client",
        timeout=120,
    )
    sdist = dist / built.stdout.strip().splitlines()[-1]
    subprocess.run([*install, str(sdist)], check=True, capture_output=True, timeout=300)
    return python


def test_the_client_imports_alone_without_the_server_dependencies(client_python: Path) -> None:
    # Run from the venv's own folder: the repository's `service` must not leak in via the cwd.
    answer = subprocess.run(
        [str(client_python), "-I", "-c", PROBE],
        check=True,
        capture_output=True,
        text=True,
        cwd=client_python.parent,
        timeout=60,
    )
    probe = json.loads(answer.stdout)
    assert probe["exports"] == ["AsyncMonitor", "Counters", "InvalidRecord", "Monitor"]
    assert probe["present"] == []


def test_the_client_distribution_ships_the_server_copy_unchanged(client_python: Path) -> None:
    """One home for the code: the installed package holds exactly service/client's modules."""
    answer = subprocess.run(
        [
            str(client_python),
            "-I",
            "-c",
            "import modelmon_client, os; print(os.path.dirname(modelmon_client.__file__))",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    installed = Path(answer.stdout.strip())
    source = REPO / "service" / "client"
    names = sorted(path.name for path in source.glob("*.py"))
    assert sorted(path.name for path in installed.glob("*.py")) == names
    for name in names:
        assert (installed / name).read_bytes() == (source / name).read_bytes(), name
