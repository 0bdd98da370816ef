"""The stored-state part of ``/metrics`` and the cache that keeps scrapes cheap.

``CachedExport`` reads a snapshot (``snapshot.read_snapshot``) at most every
``cache_seconds`` and keeps it *rendered* (Prometheus text, ``text.render_text``), so a
scrape costs neither a query nor the formatting of ~22,000 samples (100 models × ~220
series, docs/metrics.md); a stale snapshot is read again by one background thread while
scrapes get the last one.

Apart from prometheus-client on purpose: this is not a ``prometheus_client`` ``Collector``
and is never registered in a ``CollectorRegistry``. A registered collector would be asked
for its families on every scrape and rendered by ``generate_latest`` (134–255 ms for ~22,000
samples, 5–7× ``render_text``); here the process's registry (``instruments.py``) and this
cached text are two separate byte strings that ``endpoints.metrics`` joins, with disjoint
family names (``tests/export/test_scrape_parts.py``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from service.clock import Clock
from service.export.families import Budget, Family
from service.export.snapshot import read_snapshot
from service.export.text import render_text
from service.kernel.instruments import SNAPSHOT_FAILURES
from service.storage.database import unit_of_work

log = logging.getLogger("modelmon.metrics")

EXPORTER_FAMILIES = (
    ("modelmon_metrics_snapshot_timestamp_seconds", "When the stored-state snapshot was read."),
    ("modelmon_metrics_snapshot_duration_seconds", "How long reading the stored-state snapshot took."),
)


def render(families: list[Family]) -> bytes:
    """Prometheus text (format 0.0.4, UTF-8) of ``families``: the bytes prometheus-client's
    ``generate_latest`` wrote for them, ~5× faster (``service/export/text.py``)."""
    return render_text(families)


class CachedExport:
    """The rendered stored-state metrics, read again once ``cache_seconds`` have passed."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        budget: Budget,
        cache_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions, self.clock, self.budget = sessions, clock, budget
        self.cache_seconds, self.monotonic = cache_seconds, monotonic
        self._lock = threading.Lock()
        self._text = b""
        self._read_at: float | None = None
        self._worker: threading.Thread | None = None

    def text(self) -> bytes:
        """The rendered snapshot. The first call reads it; later, a stale one is served
        while a background thread reads the next (a cold read of 100 models takes 0.2–0.5 s,
        docs/metrics.md, and must not land on a scrape)."""
        with self._lock:
            if self._read_at is None:
                self._refresh()
                return self._text
            served = self._text  # taken before a refresh starts: the thread may finish first
            if self.monotonic() - self._read_at >= self.cache_seconds and self._worker is None:
                self._worker = threading.Thread(target=self._refresh_in_background, daemon=True)
                self._worker.start()
            return served

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait for a background read to finish (tests, benchmarks)."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)

    def _refresh_in_background(self) -> None:
        try:
            self._refresh()
        except Exception:  # a thread's exception would vanish; log it and keep serving
            log.exception("metrics: reading the stored-state snapshot failed")
        finally:
            self._worker = None

    def _refresh(self) -> None:
        # A database that is down must not fail the scrape: the service metrics still tell
        # the story, and the snapshot's timestamp shows how old the stored-state part is.
        try:
            text = self._read()
        except SQLAlchemyError:
            SNAPSHOT_FAILURES.inc()
            log.exception("metrics: reading the stored-state snapshot failed; serving the previous one")
        else:
            self._text = text
        self._read_at = self.monotonic()

    def _read(self) -> bytes:
        started = time.perf_counter()
        now = self.clock()
        with unit_of_work(self.sessions) as session:
            families = read_snapshot(session, now, self.budget)
        seconds = time.perf_counter() - started
        exporter = [Family(name, doc, ()) for name, doc in EXPORTER_FAMILIES]
        exporter[0].add((), now.timestamp())
        exporter[1].add((), seconds)
        log.debug("metrics snapshot read in %.3f s", seconds)
        return render([*families, *exporter])
