"""The retention job: run by every worker at most once per ``RETENTION_EVERY``, in a thread of
its own, so a jobs round that fails or runs long never holds deletion back. Each run first
creates the event tables' partitions ahead of time (Postgres), then deletes."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from service.clock import Clock
from service.kernel.job import JobTiming
from service.privacy.service import retention_pass
from service.storage.database import unit_of_work
from service.storage.partitions import DAYS_AHEAD, ensure_partitions

log = logging.getLogger("modelmon.retention")

# Retention is measured in days; checking hourly deletes each row at most an hour late and
# keeps the orphan-outcome scan (a table scan on Postgres) off every round.
RETENTION_EVERY = timedelta(hours=1)
# 5,000 predictions per transaction: each delete holds its row locks for well under a second.
RETENTION_BATCH = 5_000
# How often the thread asks whether a run is due; a database outage retries this often.
RETENTION_POLL_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Partitioning:
    """What the partitions made ahead must cover: event times from now − min(horizon, retention)
    days (older ones are deleted at once anyway) to now + skew seconds + ``DAYS_AHEAD`` days,
    in partitions of ``days`` days."""

    days: int
    horizon_days: int
    skew_seconds: int

    def covering(self, now: datetime, retention_days: int) -> tuple[datetime, datetime]:
        start = now - timedelta(days=min(self.horizon_days, retention_days))
        return start, now + timedelta(seconds=self.skew_seconds, days=DAYS_AHEAD)


class RetentionJob:
    name = "retention"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        retention_days: int,
        partitioning: Partitioning | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.retention_days = retention_days
        self.partitioning = partitioning or Partitioning(1, retention_days, 300)
        self._last_run: datetime | None = None
        self.timing = JobTiming(self.name, clock)

    def run_once(self) -> tuple[int, int]:
        """A run if one is due (none in the last ``RETENTION_EVERY``); (predictions, outcomes)."""
        return self.run_if_due()

    def run_if_due(self) -> tuple[int, int]:
        now = self._clock()
        if self._last_run is not None and now - self._last_run < RETENTION_EVERY:
            return 0, 0
        self._last_run = now
        return self.run(now)

    def run_forever(self, stop: threading.Event) -> None:
        """Until ``stop``: a run whenever one is due; a failed run is logged (and counted) and
        retried at the next poll."""
        while not stop.is_set():
            try:
                self.run_if_due()
            except Exception:
                self._last_run = None
                log.exception("retention: run failed; retrying in %.0f s", RETENTION_POLL_SECONDS)
            stop.wait(RETENTION_POLL_SECONDS)

    def make_partitions(self, now: datetime) -> list[str]:
        """Postgres: create the partitions missing ahead of time (one transaction); their names."""
        start, end = self.partitioning.covering(now, self.retention_days)
        with unit_of_work(self._sessions) as session:
            created = ensure_partitions(session, start, end, self.partitioning.days)
        if created:
            log.info("retention: created partitions %s", ", ".join(created))
        return created

    def run(self, now: datetime) -> tuple[int, int]:
        """Make partitions ahead, then delete every expired raw event, one transaction per batch
        (or partition); (predictions, outcomes)."""
        started = self.timing.start()
        try:
            with self.timing.counting_failures():
                self.make_partitions(now)
        except Exception:
            # Deletion never waits for partition upkeep; ingestion creates a missing one itself.
            log.exception("retention: creating partitions ahead failed; deleting anyway")
        predictions = outcomes = 0
        while True:
            with self.timing.counting_failures(), unit_of_work(self._sessions) as session:
                done = retention_pass(session, now, self.retention_days, RETENTION_BATCH)
            predictions += done.predictions
            outcomes += done.outcomes
            if not done.more:
                break
            log.info("retention: %d predictions and %d outcomes deleted so far", predictions, outcomes)
        seconds = self.timing.elapsed(started)
        if predictions or outcomes:
            log.info(
                "retention: deleted %d predictions and %d outcomes older than %d days in %.1f s",
                predictions, outcomes, self.retention_days, seconds,
            )  # fmt: skip
        self.timing.succeeded(seconds)
        return predictions, outcomes
