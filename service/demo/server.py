"""The demo's own modelmon: the real app under uvicorn in a thread of this process, on a free
loopback port, with an embedded SQLite database in a temporary folder and the jobs running
in the API process (the SQLite default), all driven by a :class:`SimulatedClock`.

Why an accelerated clock rather than past-dated data: windows are evaluated once they have
ended *by the clock*, and alerts page only for windows that ended recently
(docs/alerting.md), so weeks of history posted at once would be evaluated but would wake
no one. Here the app, its jobs and the demo's traffic share one clock that runs ``speed``
times faster than real time, so weeks pass in minutes and every alert fires "live".
"""

from __future__ import annotations

import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from service.app import create_app
from service.config import Settings
from service.demo.api import DemoError
from service.storage.migrations import upgrade

READY_TIMEOUT_SECONDS = 30.0
DATABASE_NAME = "modelmon-demo.db"
# The jobs rest this long (real seconds) once caught up. The runner measures its pause with
# the clock (the time to the next window end, simulated seconds) but sleeps in real seconds,
# capped by this interval; at ~30,000× a 6 h step passes in 0.7 s, so the cap must be short.
WORKER_INTERVAL_SECONDS = 0.1


class SimulatedClock:
    """Simulated time = ``start`` + ``speed`` × real seconds elapsed, never past the gate.

    The traffic generator posts each slice of simulated time and then opens the gate to its
    end, so the server's clock never overtakes data still being sent: a window is judged
    with all its predictions in, whatever the machine's speed. A fast machine waits for the
    pace; a slow one simply takes longer. Thread-safe; UTC-aware like every clock here.
    """

    def __init__(self, start: datetime, speed: float) -> None:
        if start.utcoffset() is None:
            raise ValueError("a simulated clock needs a timezone-aware start")
        self.start, self.speed = start, speed
        self._origin = time.monotonic()
        self._gate = start
        self._lock = threading.Lock()

    def paced(self) -> datetime:
        """Where the pace alone would put the clock."""
        return self.start + timedelta(seconds=self.speed * (time.monotonic() - self._origin))

    def __call__(self) -> datetime:
        with self._lock:
            return min(self.paced(), self._gate)

    def resume(self) -> None:
        """Pace on from where the clock stands (after the set-up, which happened at the gate),
        instead of jumping ahead by the real time the set-up took."""
        with self._lock:
            behind = (self._gate - self.start).total_seconds() / self.speed
            self._origin = time.monotonic() - behind

    def open_until(self, moment: datetime) -> None:
        """Let the clock run up to ``moment`` (never backwards)."""
        with self._lock:
            self._gate = max(self._gate, moment)

    def wait_until(self, moment: datetime) -> None:
        """Sleep (real time) until the pace reaches ``moment``."""
        ahead = (moment - self.paced()).total_seconds() / self.speed
        if ahead > 0:
            time.sleep(ahead)


@dataclass(frozen=True, slots=True)
class LocalServer:
    url: str
    api_key: str
    database: Path
    clock: SimulatedClock


def demo_settings(database: Path, port: int, api_key: str, skew_seconds: int) -> Settings:
    """Settings of the demo's server. Everything that could reach outside or change what the
    demo shows is set here rather than read from the environment (an Alertmanager URL or a
    Postgres URL exported in the shell must not leak into a throwaway demo)."""
    values: dict[str, Any] = {
        "env": "development",
        "database_url": f"sqlite:///{database}",
        "host": "127.0.0.1",
        "port": port,
        "log_level": "warning",
        "run_jobs": True,
        "worker_interval_seconds": WORKER_INTERVAL_SECONDS,
        # Each slice of traffic is posted just before the gate opens to its end (above).
        "max_future_skew_seconds": skew_seconds,
        "public_url": f"http://127.0.0.1:{port}",
        "alertmanager_url": None,
        "webhook_allowed_networks": "127.0.0.0/8",
        "admin_key": api_key,
        "auth": True,
        # One client sends a few requests per real second; a limit would only slow the pace.
        "rate_limit_per_second": 0,
    }
    return Settings(**values)


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _wait_ready(url: str, thread: threading.Thread) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the demo's modelmon server stopped while starting")
        try:
            if httpx.get(f"{url}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the demo's modelmon server was not ready within {READY_TIMEOUT_SECONDS:.0f} s")


@contextmanager
def local_server(clock: SimulatedClock, skew_seconds: int, keep: Path | None = None) -> Iterator[LocalServer]:
    """A migrated modelmon on loopback driven by ``clock``; its database lives in a temporary
    folder removed afterwards (or in ``keep``, left in place for a look with ``modelmon``)."""
    with tempfile.TemporaryDirectory(prefix="modelmon-demo-") as scratch:
        folder = (keep or Path(scratch)).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        database = folder / DATABASE_NAME
        if database.exists():
            raise DemoError(f"{database} exists (an earlier demo): remove it or keep this run elsewhere")
        sock = _listening_socket()
        port = int(sock.getsockname()[1])
        api_key = "mmk_demo_" + secrets.token_hex(24)
        settings = demo_settings(database, port, api_key, skew_seconds)
        upgrade(settings.database_url)
        app = create_app(settings, clock=clock)
        config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="demo-server")
        thread.start()
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(url, thread)
            yield LocalServer(url, api_key, database, clock)
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            sock.close()
