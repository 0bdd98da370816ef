"""Processes on loopback for tests and benchmarks: a free port, a child process with its log,
waiting for a readiness URL, and ``modelmon serve`` started and stopped around a block."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

# One HTTP client for every probe of a loopback process. ``httpx.get`` builds a client, and with
# it a TLS context loaded with the CA bundle (~25 ms of CPU), on every call: polling each server's
# start every 0.1 s that way was ~5% of the suite's CPU (py-spy over a whole run), spent on the
# same 2 cores the servers were starting on.
LOOPBACK = httpx.Client()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def process(
    command: list[str], env: Mapping[str, str], log: Path, cwd: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``command`` running with its output in ``log``; terminated (killed after 30 s) on exit."""
    with log.open("w") as out:
        child = subprocess.Popen(command, env=dict(env), cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield child
        finally:
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def wait_ready(url: str, child: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    """Poll ``url`` every 0.1 s until it answers 200; RuntimeError with the log's end if the
    child exits or ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.poll() is None:
        try:
            if LOOPBACK.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready: {log.read_text()[-2000:]}")


@contextmanager
def serve(
    database_url: str, directory: Path, *, run_jobs: bool | None = False, **environment: str
) -> Iterator[str]:
    """``modelmon serve`` on a free port of 127.0.0.1 with its log in ``directory/serve.log``;
    yields its base URL once ``/readyz`` answers. ``run_jobs=None`` leaves the mode's default
    (jobs in the API on SQLite)."""
    port = free_port()
    env = {
        **os.environ,
        "MODELMON_DATABASE_URL": database_url,
        "MODELMON_PORT": str(port),
        "MODELMON_LOG_LEVEL": "warning",
        **({} if run_jobs is None else {"MODELMON_RUN_JOBS": str(run_jobs).lower()}),
        **environment,
    }
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / f"serve-{port}.log"
    base = f"http://127.0.0.1:{port}"
    with process([sys.executable, "-m", "service", "serve"], env, log, directory) as child:
        wait_ready(f"{base}/readyz", child, log)
        yield base
