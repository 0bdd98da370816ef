"""A real `modelmon serve` in a subprocess, which a test can kill and start again on the same
port and SQLite database (an outage), and read back what it stored."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.auth import AUTH_HEADERS
from tests.factories import registration
from tests.live import LOOPBACK

READY_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    def __init__(self, directory: Path, **settings: str) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = directory / "modelmon.db"
        self.env = {
            **os.environ,  # holds MODELMON_ADMIN_KEY (tests/conftest.py)
            "MODELMON_DATABASE_URL": f"sqlite:///{self.database}",
            "MODELMON_PORT": str(self.port),
            "MODELMON_RUN_JOBS": "false",
            "MODELMON_LOG_LEVEL": "warning",
            **settings,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = (self.directory / f"server-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve"],
            env=self.env,
            cwd=self.directory,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if LOOPBACK.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"modelmon serve did not start: {self.log()}")

    def log(self) -> str:
        return (self.directory / f"server-{self.starts}.log").read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, requests in flight are cut (as in a crash)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=AUTH_HEADERS, timeout=30)

    def register(self, name: str) -> None:
        with self.admin() as http:
            answer = http.post("/v1/models", json=registration(name=name))
            assert answer.status_code == 201, answer.text

    def ingest_key(self, *models: str) -> str:
        with self.admin() as http:
            answer = http.post("/v1/keys", json={"role": "ingest", "name": "tests", "models": list(models)})
            assert answer.status_code == 201, answer.text
            key: str = answer.json()["key"]
            return key

    def counts(self, name: str) -> dict[str, Any]:
        with self.admin() as http:
            counts: dict[str, Any] = http.get(f"/v1/models/{name}").json()["counts"]
            return counts

    def stored(self, table: str, name: str) -> list[str]:
        """Every ``prediction_id`` of the model in ``predictions`` or ``outcomes``, repeats kept."""
        assert table in ("predictions", "outcomes")
        with sqlite3.connect(self.database) as connection:
            rows = connection.execute(
                f"SELECT t.prediction_id FROM {table} t JOIN models m ON m.id = t.model_id WHERE m.name = ?",
                (name,),
            ).fetchall()
        return [row[0] for row in rows]


class HangingServer:
    """Accepts TCP connections (the kernel completes the handshake) and never answers."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(1024)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def close(self) -> None:
        self.socket.close()
