"""Helpers shared by the benchmarks: progress lines, sizes like "10M", peak memory, a
throwaway Postgres database."""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from tests.auth import AUTH_HEADERS, TEST_ADMIN_KEY

# Benchmarks use the test suite's admin key (tests/auth/__init__.py: the in-process client sends it)
# for the servers they start, and measure capacity, so no per-key rate limit applies.
BENCH_ADMIN_KEY = TEST_ADMIN_KEY
BENCH_HEADERS = AUTH_HEADERS
os.environ.setdefault("MODELMON_ADMIN_KEY", BENCH_ADMIN_KEY)
os.environ.setdefault("MODELMON_RATE_LIMIT_PER_SECOND", "0")


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_size(text: str) -> int:
    """Rows from "250k", "1M" or "5000"."""
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1].lower(), 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


class PeakRss:
    """Peak resident-set size above the starting level, sampled every 5 ms in a thread."""

    def __init__(self) -> None:
        import psutil

        self._process = psutil.Process()
        self._stop = threading.Event()
        self.base = self.peak = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        gc.collect()
        self.base = self.peak = self._process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def mib(self) -> float:
        return (self.peak - self.base) / 2**20


# The Postgres server the benchmarks create their databases on (trust auth on loopback).
ADMIN_URL = os.environ.get(
    "MODELMON_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def conninfo(url: str) -> str:
    """A SQLAlchemy URL as psycopg's connection string."""
    return url.replace("postgresql+psycopg://", "postgresql://")


@contextmanager
def postgres_database(admin_url: str = ADMIN_URL) -> Iterator[str]:
    """A migrated throwaway database ``modelmon_bench_<random>``, dropped however the run ends."""
    import psycopg

    from service.storage.migrations import upgrade

    name = f"modelmon_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(conninfo(admin_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(conninfo(admin_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        progress(f"dropped database {name}")
