"""docker/entrypoint.sh and docker/healthcheck.py, run directly (no Docker engine here).

A fake ``modelmon`` first on PATH records the argv, process id and MODELMON_HOST it was started
with, so each role's exact command is checked, and that it was exec'd (same process id as the
script: the signal of `docker stop` reaches modelmon, not a shell). Then the real script runs the
real ``modelmon migrate`` on SQLite, and the real ``modelmon serve`` is stopped with SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from service.storage.migrations import current_revision, head_revision
from tests.deploy.support import ENTRYPOINT, HEALTHCHECK

EX_USAGE = 64
# Only the shell's own tools, and never a modelmon a developer has on PATH.
SYSTEM_PATH = "/usr/bin:/bin"

FAKE_MODELMON = """#!{python}
import json, os, sys
with open(os.environ["FAKE_MODELMON_RECORD"], "w") as record:
    json.dump({{"argv": sys.argv[1:], "pid": os.getpid(), "host": os.environ.get("MODELMON_HOST")}}, record)
sys.exit(int(os.environ.get("FAKE_MODELMON_EXIT", "0")))
"""


def _clean_environment() -> dict[str, str]:
    """This process's environment without MODELMON_* settings a developer may have exported."""
    return {name: value for name, value in os.environ.items() if not name.startswith("MODELMON_")}


class Run:
    def __init__(self, returncode: int, pid: int, stderr: str, record: dict[str, Any] | None) -> None:
        self.returncode = returncode
        self.pid = pid
        self.stderr = stderr
        self.record = record


@pytest.fixture
def fake_modelmon(tmp_path: Path) -> Path:
    directory = tmp_path / "bin"
    directory.mkdir()
    fake = directory / "modelmon"
    fake.write_text(FAKE_MODELMON.format(python=sys.executable))
    fake.chmod(0o755)
    return directory


def _run_entrypoint(bin_directory: Path, *args: str, **environment: str) -> Run:
    record = bin_directory.parent / "record.json"
    record.unlink(missing_ok=True)
    env = {
        **_clean_environment(),
        "PATH": f"{bin_directory}{os.pathsep}{SYSTEM_PATH}",
        "FAKE_MODELMON_RECORD": str(record),
        **environment,
    }
    process = subprocess.Popen(
        [str(ENTRYPOINT), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _, stderr = process.communicate(timeout=30)
    recorded = json.loads(record.read_text()) if record.exists() else None
    return Run(process.returncode, process.pid, stderr, recorded)


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["serve"],
        ["worker"],
        ["migrate"],
        ["worker", "--once"],
        ["backfill", "--model", "credit", "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-02T00:00:00Z"],
        ["serve", "--flag", "two words"],
    ],
    ids=["serve", "worker", "migrate", "worker-once", "backfill", "arguments-kept"],
)
def test_each_role_execs_modelmon_with_its_arguments(fake_modelmon: Path, args: list[str]) -> None:
    run = _run_entrypoint(fake_modelmon, *args)
    assert run.returncode == 0, run.stderr
    assert run.record is not None
    assert run.record["argv"] == args
    # exec: modelmon replaced the shell, it did not run as its child.
    assert run.record["pid"] == run.pid
    assert run.record["host"] == "0.0.0.0"


def test_an_explicit_host_is_kept(fake_modelmon: Path) -> None:
    run = _run_entrypoint(fake_modelmon, "serve", MODELMON_HOST="127.0.0.1")
    assert run.record is not None and run.record["host"] == "127.0.0.1"


def test_modelmons_exit_status_is_the_containers(fake_modelmon: Path) -> None:
    run = _run_entrypoint(fake_modelmon, "migrate", FAKE_MODELMON_EXIT="3")
    assert run.returncode == 3
    assert run.record is not None and run.record["argv"] == ["migrate"]


@pytest.mark.parametrize("args", [["bogus"], [], ["modelmon", "serve"], ["Serve"]], ids=str)
def test_an_unknown_role_prints_the_usage_and_exits_64(fake_modelmon: Path, args: list[str]) -> None:
    run = _run_entrypoint(fake_modelmon, *args)
    assert run.returncode == EX_USAGE
    assert run.record is None, "nothing may be started on a usage error"
    assert "usage: entrypoint.sh ROLE" in run.stderr
    for role in ("serve", "worker", "migrate", "backfill"):
        assert f"  {role} " in run.stderr
    if args:
        assert f"unknown role '{args[0]}'" in run.stderr


def test_help_is_not_an_error(fake_modelmon: Path) -> None:
    run = _run_entrypoint(fake_modelmon, "--help")
    assert run.returncode == 0
    assert run.record is None
    assert "usage: entrypoint.sh ROLE" in run.stderr


def _real_environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    return {
        **_clean_environment(),
        # The real modelmon of this virtual environment, as the image's PATH has /opt/venv/bin.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{SYSTEM_PATH}",
        "MODELMON_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        **settings,
    }


@pytest.mark.slow
def test_the_real_migrate_creates_the_schema(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(ENTRYPOINT), "migrate"],
        env=_real_environment(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "x.db").is_file()
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _healthcheck(port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK)],
        env={**_clean_environment(), "MODELMON_PORT": str(port)},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )


@pytest.mark.slow
def test_the_real_serve_answers_the_healthcheck_and_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "serve.log"
    environment = _real_environment(
        tmp_path, MODELMON_HOST="127.0.0.1", MODELMON_PORT=str(port), MODELMON_LOG_LEVEL="info"
    )
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(ENTRYPOINT), "serve"], env=environment, cwd=tmp_path, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while _healthcheck(port).returncode != 0:
            assert process.poll() is None, f"serve exited: {log.read_text()}"
            assert time.monotonic() < deadline, f"serve did not answer /healthz in 30 s: {log.read_text()}"
            time.sleep(0.2)
        # exec'd: the script's process is now the Python process running modelmon.
        command_line = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        assert b"serve" in command_line
        assert Path(command_line[0].decode()).name.startswith("python"), command_line
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output_text = log.read_text()
    # uvicorn's graceful path ran; once done it re-raises SIGTERM with the default handler, so
    # the process ends by the signal (exit status 143 in a container), as Kubernetes expects.
    assert "Shutting down" in output_text and "Finished server process" in output_text, output_text
    assert process.returncode == -signal.SIGTERM, output_text
    failed = _healthcheck(port)
    assert failed.returncode == 1
    assert "healthz" in failed.stderr
