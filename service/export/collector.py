"""The stored-state collector behind ``/metrics`` and the cache that keeps scrapes cheap.

``StoredStateCollector`` is a prometheus-client custom collector: it yields the gauges of
one snapshot (``snapshot.read_snapshot``). ``CachedExport`` reads a snapshot at most every
``cache_seconds`` and keeps it *rendered* (Prometheus text), so a scrape costs neither a
query nor the formatting of ~22,000 samples (100 models × ~220 series, docs/metrics.md);
a stale snapshot is read again by one background thread while scrapes get the last one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from service.clock import Clock
from service.export.families import Budget, Family
from service.export.instruments import SNAPSHOT_FAILURES
from service.export.snapshot import read_snapshot
from service.storage.database import unit_of_work

log = logging.getLogger("modelmon.metrics")

EXPORTER_FAMILIES = (
    ("modelmon_metrics_snapshot_timestamp_seconds", "When the stored-state snapshot was read."),
    ("modelmon_metrics_snapshot_duration_seconds", "How long reading the stored-state snapshot took."),
)


class StoredStateCollector(Collector):
    """Yields the gauges of a list of families (one snapshot)."""

    def __init__(self, families: list[Family]) -> None:
        self.families = families

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for family in self.families:
            gauge = GaugeMetricFamily(family.name, family.documentation, labels=list(family.labels))
            for values, value in family.samples.items():
                gauge.add_metric(list(values), value)
            yield gauge


def render(families: list[Family]) -> bytes:
    """Prometheus text of ``families`` (a private registry: nothing global is touched)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoredStateCollector(families))
    return generate_latest(registry)


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
        while a background thread reads the next (a cold read of 100 models takes ~0.5 s,
        docs/metrics.md, and must not land on a scrape)."""
        with self._lock:
            if self._read_at is None:
                self._refresh()
            elif self.monotonic() - self._read_at >= self.cache_seconds and self._worker is None:
                self._worker = threading.Thread(target=self._refresh_in_background, daemon=True)
                self._worker.start()
            return self._text

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
