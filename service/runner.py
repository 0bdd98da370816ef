"""The composition root of a worker: the jobs, built and wired here and nowhere else.

One round of the pipeline runs aggregation → evaluation → alerting → Alertmanager, each
stage to completion (or its time budget) before the next; evaluation publishes the runs
it stores to alerting's queue (the ``RunPublisher`` port, implemented by ``AlertingJob``).
Beside the rounds, in threads of their own: webhook delivery, so a slow receiver never
delays evaluation, and retention, so a failing or slow round never keeps raw events past
their retention period.

``modelmon worker`` runs one runner; so does ``modelmon serve`` when the jobs run in the API
process (the embedded SQLite default).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from service.alerting.alertmanager import AlertmanagerSync
from service.alerting.jobs import AlertingJob
from service.clock import Clock
from service.config import Settings
from service.privacy.jobs import Partitioning, RetentionJob
from service.webhooks.jobs import Deliverer
from service.windows.jobs import AggregationJob, EvaluationJob
from service.windows.service import ProfileCache

log = logging.getLogger("modelmon.worker")


@dataclass
class RoundSummary:
    """What one round of jobs did."""

    passes: int = 0
    predictions: int = 0
    late_labels: int = 0
    windows: int = 0
    alerts_fired: int = 0
    alerts_resolved: int = 0
    seconds: float = 0.0


class Pipeline:
    """Aggregation → evaluation → alerting → Alertmanager against one database, with the
    clock and limits of ``settings``. Phase budgets are on the process's monotonic clock, so
    a test's frozen clock never makes a round endless."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, clock: Clock) -> None:
        self.sessions, self.settings, self.clock = sessions, settings, clock
        self.cache = ProfileCache()  # layouts parsed by aggregation, profiles read by evaluation
        self.aggregation = AggregationJob(sessions, settings, clock, self.cache)
        self.alerting = AlertingJob(sessions, settings, clock)
        self.evaluation = EvaluationJob(sessions, clock, self.cache, publisher=self.alerting)
        self.alertmanager = AlertmanagerSync(sessions, settings, clock)

    def aggregate_once(self) -> tuple[bool, int, int]:
        """One aggregation pass: (caught up, predictions folded, late labels folded)."""
        return self.aggregation.run_once()

    def evaluate_once(
        self, limit: int = 8, model_id: int | None = None, ends: tuple[datetime, datetime] | None = None
    ) -> int:
        return self.evaluation.run_once(limit, model_id, ends)

    def catch_up(self, max_passes: int | None = None) -> int:
        """Aggregate until every committed event is folded in (or ``max_passes`` ran);
        returns the predictions folded."""
        return self.aggregation.catch_up(max_passes)

    def run_round(self, *, max_seconds: float = 60.0, stop: threading.Event | None = None) -> RoundSummary:
        """Aggregate until caught up, evaluate every due window, apply the new windows to the
        alerts (each phase within ``max_seconds``), then push alert states to Alertmanager.

        ``stop`` is checked between transactions (each ≤ ~1 s), so SIGTERM ends a worker well
        inside Kubernetes' 30 s grace period.
        """
        summary, started = RoundSummary(), time.monotonic()
        stopping = stop.is_set if stop is not None else lambda: False
        caught_up = False
        while not caught_up and time.monotonic() - started < max_seconds and not stopping():
            caught_up, predictions, labels = self.aggregation.run_once()
            summary.passes += 1
            summary.predictions += predictions
            summary.late_labels += labels
        evaluating = time.monotonic()
        while time.monotonic() - evaluating < max_seconds and not stopping():
            done = self.evaluation.run_once()
            summary.windows += done
            if done == 0:
                break
        if not stopping():
            totals = self.alerting.drain(max_seconds)
            summary.alerts_fired, summary.alerts_resolved = totals.fired, totals.resolved
            self.alertmanager.run_once()
        summary.seconds = time.monotonic() - started
        return summary

    def pause(self) -> float:
        """Seconds to rest once caught up: ``worker_interval_seconds``, or less when a window
        ends sooner (``EvaluationJob.pause``)."""
        return self.evaluation.pause(self.settings.worker_interval_seconds)

    def run_forever(self, stop: threading.Event) -> None:
        """Rounds until ``stop`` is set; rests (``pause``) once caught up."""
        while not stop.is_set():
            try:
                summary = self.run_round(stop=stop)
            except OperationalError as error:
                log.warning("jobs: database unavailable, retrying (%s)", error.orig)
                summary = RoundSummary()
            except Exception:
                log.exception("jobs: round failed; retrying after the interval")
                summary = RoundSummary()
            if summary.predictions or summary.windows:
                log.info(
                    "jobs: folded %d predictions and %d late labels, evaluated %d windows in %.1f s",
                    summary.predictions, summary.late_labels, summary.windows, summary.seconds,
                )  # fmt: skip
                continue
            stop.wait(self.pause())

    def close(self) -> None:
        self.alertmanager.close()


class Runner:
    """The pipeline, webhook delivery and retention of one worker."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, clock: Clock) -> None:
        self.pipeline = Pipeline(sessions, settings, clock)
        partitioning = Partitioning(
            settings.partition_days, settings.horizon_days, settings.max_future_skew_seconds
        )
        self.retention = RetentionJob(sessions, clock, settings.retention_days, partitioning)
        self.deliverer = Deliverer(sessions, settings, clock)

    def once(self, max_seconds: float = 3600) -> tuple[RoundSummary, int]:
        """One round of jobs, then every due webhook delivery; (round summary, deliveries attempted)."""
        summary = self.pipeline.run_round(max_seconds=max_seconds)
        self.retention.run_if_due()
        attempted = 0
        while (batch := self.deliverer.run_once()) > 0:
            attempted += batch
        return summary, attempted

    def run_forever(self, stop: threading.Event) -> None:
        """Until ``stop``: the rounds here, deliveries and retention in threads of their own."""
        threads = [
            threading.Thread(
                target=self.deliverer.run_forever, args=(stop,), name="modelmon-webhooks", daemon=True
            ),
            threading.Thread(
                target=self.retention.run_forever, args=(stop,), name="modelmon-retention", daemon=True
            ),
        ]
        for thread in threads:
            thread.start()
        try:
            self.pipeline.run_forever(stop)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)

    def close(self) -> None:
        self.deliverer.close()
        self.pipeline.close()
