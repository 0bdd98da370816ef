"""Live processes for the fault tests and the soak: `modelmon worker`s that can be SIGKILLed,
and a real restart of the Postgres server (`modelmon serve` is ``tests.live.serve``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


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
