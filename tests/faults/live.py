"""Live processes for the fault tests and the soak: `modelmon serve` (uvicorn), `modelmon
worker`s that can be SIGKILLed, and a real restart of the Postgres server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(base: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"modelmon serve did not become ready: {log.read_text()[-2000:]}")


@contextmanager
def live_server(database_url: str, workdir: Path, **env: str) -> Iterator[str]:
    """``modelmon serve`` on a free loopback port with jobs off (Postgres: workers run them)."""
    port = free_port()
    environment = {
        **os.environ,
        "MODELMON_DATABASE_URL": database_url,
        "MODELMON_PORT": str(port),
        "MODELMON_RUN_JOBS": "false",
        "MODELMON_LOG_LEVEL": "warning",
        **env,
    }
    log_path = workdir / f"serve-{port}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve"],
            env=environment,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base, process, log_path)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=30)


class Workers:
    """`modelmon worker` processes, SIGKILLed and started again on demand."""

    def __init__(self, database_url: str, workdir: Path, count: int) -> None:
        self.env = {
            **os.environ,
            "MODELMON_DATABASE_URL": database_url,
            "MODELMON_WORKER_METRICS_PORT": "0",
            "MODELMON_WORKER_INTERVAL_SECONDS": "2",
            "MODELMON_LOG_LEVEL": "warning",
        }
        self.workdir = workdir
        self.processes = [self._start(i) for i in range(count)]
        self.kills = 0

    def _start(self, index: int) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "service", "worker"]
        with (self.workdir / f"worker-{index}.log").open("ab") as log:  # the child keeps its own copy
            return subprocess.Popen(
                command, env=self.env, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT
            )

    def kill(self, index: int) -> None:
        self.processes[index].send_signal(signal.SIGKILL)
        self.processes[index].wait()
        self.kills += 1

    def restart(self, index: int) -> None:
        self.processes[index] = self._start(index)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=60)


def restart_postgres() -> None:
    """Restart the real server (the cluster on port 5432) with pg_ctlcluster."""
    clusters = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True)
    version = next(line.split()[0] for line in clusters.stdout.splitlines() if line.split()[2] == "5432")
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"]
    subprocess.run(command, check=True)
