"""The jobs: aggregation passes and window evaluations, for `modelmon worker`, `serve` and backfill.

Any number of workers, in any number of processes and machines, share the work through
the database alone: an aggregation pass holds the watermark row (``FOR UPDATE SKIP
LOCKED``, so a second worker skips it instead of waiting), and each window task is
claimed the same way for the transaction that evaluates it. A worker that dies mid-job
has its transaction rolled back and its locks released; the work stays pending and the
next worker to look takes it. Unique keys on (window, revision) make a duplicate run
impossible even if two transactions raced.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from service.aggregation import repository as aggregation_repository
from service.aggregation.service import aggregate_pass
from service.alerting.jobs import AlertingJob
from service.clock import Clock
from service.config import Settings
from service.failures import service as failures
from service.kernel import grid
from service.kernel.instruments import counting_failures, record_job
from service.monitors.service import load_config
from service.registry.service import load_model
from service.storage.database import unit_of_work
from service.windows import repository as window_repository
from service.windows.service import ProfileCache, evaluate_due, schedule_each_model

log = logging.getLogger("modelmon.jobs")

# Wake this long after a window ends, so predictions sent in its last second are in.
WINDOW_END_GRACE_SECONDS = 1.0


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


class Jobs:
    """Aggregation and evaluation against one database, with the clock and limits of ``settings``."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, clock: Clock) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        self.cache = ProfileCache()
        self.alerting = AlertingJob(sessions, settings, clock)
        # Called at the end of every round (the runner pushes alert states to Alertmanager).
        self.after_round: Callable[[], None] = lambda: None

    def aggregate_once(self) -> tuple[bool, int, int]:
        """One pass: (caught up, predictions folded, late labels folded)."""
        started = time.monotonic()
        try:
            with unit_of_work(self.sessions) as session:
                high_water_at = self.clock()
                high_water = aggregation_repository.committed_high_water(session)
        except OperationalError as error:  # lock_timeout: a writer is stuck; try next round
            log.warning("aggregation: event tables busy, retrying later (%s)", error.orig)
            return True, 0, 0
        with counting_failures("aggregation"), unit_of_work(self.sessions) as session:
            now = self.clock()
            held, due = failures.model_units(session, "aggregation", now)
            result = aggregate_pass(
                session,
                now=now,
                high_water=high_water,
                max_rows=self.settings.aggregation_pass_rows,
                max_reference_rows=self.settings.max_reference_rows,
                parsed=self.cache.layouts,
                high_water_at=high_water_at,
                held=held,
                retry=due,
            )
            if not result.claimed:
                return True, 0, 0  # another worker is aggregating
            schedule_each_model(session, result, now)
            failures.settle(
                session, job="aggregation", now=now, failed=result.failed, recovered=result.recovered
            )
        record_job("aggregation", time.monotonic() - started, time.time())
        return result.caught_up, result.predictions, result.late_labels

    def evaluate_once(
        self, limit: int = 8, model_id: int | None = None, ends: tuple[datetime, datetime] | None = None
    ) -> int:
        started = time.monotonic()
        with counting_failures("evaluation"), unit_of_work(self.sessions) as session:
            done = evaluate_due(session, self.clock(), self.cache, limit, model_id, ends)
        record_job("evaluation", time.monotonic() - started, time.time())
        return done

    def catch_up(self, max_passes: int | None = None, out: TextIO | None = None) -> int:
        """Aggregate until every committed event is folded in (or ``max_passes`` ran);
        returns the predictions folded. With ``out``, a progress line every 10 passes."""
        folded, caught_up, passes, started = 0, False, 0, time.monotonic()
        while not caught_up and (max_passes is None or passes < max_passes):
            caught_up, predictions, _ = self.aggregate_once()
            folded += predictions
            passes += 1
            if out is not None and passes % 10 == 0:
                rate = folded / max(time.monotonic() - started, 1e-9)
                out.write(f"aggregating: {folded} predictions folded ({rate:,.0f}/s)\n")
                out.flush()
        return folded

    def run_round(self, *, max_seconds: float = 60.0, stop: threading.Event | None = None) -> RoundSummary:
        """Aggregate until caught up, evaluate every due window, then apply the new windows to
        the alerts (each phase within ``max_seconds``).

        ``stop`` is checked between transactions (each ≤ ~1 s), so SIGTERM ends a worker well
        inside Kubernetes' 30 s grace period.
        """
        summary, started = RoundSummary(), time.monotonic()
        caught_up = False
        stopping = stop.is_set if stop is not None else lambda: False
        while not caught_up and time.monotonic() - started < max_seconds and not stopping():
            caught_up, predictions, labels = self.aggregate_once()
            summary.passes += 1
            summary.predictions += predictions
            summary.late_labels += labels
        evaluating = time.monotonic()
        while time.monotonic() - evaluating < max_seconds and not stopping():
            done = self.evaluate_once()
            summary.windows += done
            if done == 0:
                break
        if not stopping():
            totals = self.alerting.drain(max_seconds)
            summary.alerts_fired, summary.alerts_resolved = totals.fired, totals.resolved
            self.after_round()
        summary.seconds = time.monotonic() - started
        return summary

    def pause(self) -> float:
        """Seconds to rest once caught up: ``worker_interval_seconds``, or less when a window
        ends sooner, so a window is evaluated ~1 s after it ends rather than up to 10 s."""
        interval = self.settings.worker_interval_seconds
        try:
            with unit_of_work(self.sessions) as session:
                now = self.clock()
                upcoming = window_repository.next_window_end(session, now)
        except OperationalError:
            return interval
        if upcoming is None:
            return interval
        return max(min(interval, (upcoming - now).total_seconds() + WINDOW_END_GRACE_SECONDS), 0.0)

    def run_forever(self, stop: threading.Event) -> None:
        """Rounds until ``stop`` is set; sleeps ``worker_interval_seconds`` once caught up."""
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


def force_schedule(
    session: Session, model_id: int, version_id: int, windows: list[grid.Window], generation: int
) -> None:
    """Make every window pending again (a backfill re-evaluates even up-to-date windows)."""
    window_repository.schedule(
        session, model_id=model_id, version_id=version_id, windows=windows, generation=generation,
        horizon=grid.EPOCH,
    )  # fmt: skip
    window_repository.reopen(session, version_id, windows)


class Progress:
    """A one-line progress bar on a terminal, a line per 10% otherwise."""

    def __init__(self, total: int, label: str, out: TextIO = sys.stderr) -> None:
        self.total, self.label, self.out = max(total, 1), label, out
        self.started = time.monotonic()
        self._last_tenth = -1

    def update(self, done: int) -> None:
        share = min(done / self.total, 1.0)
        elapsed = time.monotonic() - self.started
        text = f"{self.label} [{'#' * int(share * 30):<30}] {done}/{self.total} {elapsed:5.1f} s"
        if self.out.isatty():
            self.out.write("\r" + text)
        elif int(share * 10) != self._last_tenth:
            self._last_tenth = int(share * 10)
            self.out.write(text + "\n")
        self.out.flush()

    def finish(self) -> None:
        if self.out.isatty():
            self.out.write("\n")
        self.out.flush()


def backfill(jobs: Jobs, model: str, start: datetime, end: datetime, out: TextIO = sys.stderr) -> int:
    """Evaluate every grid window of ``model`` ending in (start, end] as a new revision.

    Folds every committed event first; returns the number of windows evaluated here
    (workers running at the same time may take some of them).
    """
    folded = jobs.catch_up(out=out)
    out.write(f"aggregated: {folded} new predictions folded\n")
    with unit_of_work(jobs.sessions) as session:
        registered = load_model(session, model)
        config, _ = load_config(session, registered.model_id)
        state = aggregation_repository.read_state(session)
        generation = 0 if state is None else state.generation
        layouts = aggregation_repository.active_layouts(
            session, [spec.version_id for spec in registered.versions.values()]
        )
        windows = grid.windows_between(start, end, step=config.step, window=config.window)
        scheduled = 0
        for spec in registered.versions.values():
            if spec.version_id in layouts:
                force_schedule(session, registered.model_id, spec.version_id, windows, generation)
                scheduled += len(windows)
    progress, done = Progress(scheduled, f"backfill {model}", out), 0
    while True:
        ran = jobs.evaluate_once(limit=16, model_id=registered.model_id, ends=(start, end))
        done += ran
        progress.update(done)
        if ran == 0:
            break
    progress.finish()
    return done
