"""The alerting job: apply queued window runs until the queue is empty (or time is up).

It is also the queue's door: evaluation publishes each stored run through
:meth:`AlertingJob.publish` (the ``RunPublisher`` port of ``service/windows/service.py``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from service.alerting import repository
from service.alerting.service import PassSummary, alert_pass
from service.clock import Clock
from service.config import Settings
from service.failures import service as failures
from service.kernel.job import JobTiming
from service.storage.database import unit_of_work
from service.storage.engine_tables import WindowRun

log = logging.getLogger("modelmon.alerting")
JOB = "alerting"


@dataclass
class AlertingTotals:
    passes: int = 0
    runs: int = 0
    fired: int = 0
    resolved: int = 0
    retrain_requests: int = 0


class AlertingJob:
    """Alerting passes against one database; each pass is one transaction (≤ ``max_runs`` runs,
    ~300 figures each, so a pass stays well under a second)."""

    name = JOB

    def __init__(
        self, sessions: sessionmaker[Session], settings: Settings, clock: Clock, max_runs: int = 200
    ):
        self.sessions, self.settings, self.clock, self.max_runs = sessions, settings, clock, max_runs
        self.timing = JobTiming(JOB, clock)

    def publish(self, session: Session, run: WindowRun) -> None:
        """Queue a stored run for the next pass, in the transaction that stored it."""
        repository.enqueue_run(session, run)

    def run_once(self) -> PassSummary:
        started = self.timing.start()
        with self.timing.counting_failures(), unit_of_work(self.sessions) as session:
            now = self.clock()
            failing, due = failures.model_units(session, JOB, now)
            summary = alert_pass(session, now, self.settings.base_url, self.max_runs, held=failing - due)
            recovered = failing & summary.applied_models
            failures.settle(session, job=JOB, now=now, failed=summary.failed, recovered=recovered)
        if summary.claimed:
            self.timing.succeeded(self.timing.elapsed(started))
        return summary

    def drain(self, max_seconds: float = 60.0) -> AlertingTotals:
        """Passes until the queue is empty, another worker holds the claim, or ``max_seconds``
        (a budget on the process's monotonic clock: a frozen test clock must not make it endless)."""
        totals, started = AlertingTotals(), time.monotonic()
        while True:
            summary = self.run_once()
            totals.passes += 1
            totals.runs += summary.runs
            totals.fired += summary.fired
            totals.resolved += summary.resolved
            totals.retrain_requests += summary.retrain_requests
            stuck = summary.runs == 0  # what is left waits for older windows to be evaluated
            if (
                not summary.claimed
                or stuck
                or summary.remaining == 0
                or time.monotonic() - started > max_seconds
            ):
                break
        if totals.fired or totals.resolved or totals.retrain_requests:
            log.info(
                "alerting: %d runs, %d fired, %d resolved, %d retraining requests",
                totals.runs, totals.fired, totals.resolved, totals.retrain_requests,
            )  # fmt: skip
        return totals
