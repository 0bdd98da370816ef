"""The aggregation and evaluation jobs, for `modelmon worker`, `serve` and backfill.

Any number of workers, in any number of processes and machines, share the work through
the database alone: an aggregation pass holds one model's cursor (``FOR UPDATE SKIP
LOCKED``, so a second worker folds another model instead of waiting), and each window task is
claimed the same way for the transaction that evaluates it. A worker that dies mid-job
has its transaction rolled back and its locks released; the work stays pending and the
next worker to look takes it. Unique keys on (window, revision) make a duplicate run
impossible even if two transactions raced.

Evaluation hands every stored run to a :class:`~service.windows.service.RunPublisher`
(alerting's queue, wired by ``service/runner.py``) in the transaction that stored it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from service.aggregation import queries as aggregation_queries
from service.aggregation.cursors import HighWater, aggregate_pass
from service.aggregation.service import Limits
from service.clock import Clock
from service.config import Settings
from service.errors import Unavailable
from service.failures import service as failures
from service.kernel.job import JobTiming
from service.storage.database import unit_of_work
from service.windows import repository as window_repository
from service.windows.service import ProfileCache, RunPublisher, evaluate_due, schedule_each_model

log = logging.getLogger("modelmon.jobs")

# Wake this long after a window ends, so predictions sent in its last second are in.
WINDOW_END_GRACE_SECONDS = 1.0


class AggregationJob:
    """Aggregation passes against one database, with the limits of ``settings``."""

    name = "aggregation"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        clock: Clock,
        cache: ProfileCache | None = None,
    ) -> None:
        self.sessions, self.settings, self.clock = sessions, settings, clock
        self.cache = cache or ProfileCache()
        self.timing = JobTiming(self.name, clock)
        self._high_water: HighWater | None = None

    def read_high_water(self) -> HighWater:
        """The committed high water, in a short transaction of its own (it holds writers back
        for the ~ms of two max() look-ups); ``OperationalError`` when a writer is stuck."""
        with unit_of_work(self.sessions) as session:
            at = self.clock()
            return HighWater(aggregation_queries.committed_high_water(session), at)

    def high_water_for_request(self) -> HighWater:
        """``read_high_water`` for an API request: a stuck writer is a 503 to retry, not a 500."""
        try:
            return self.read_high_water()
        except OperationalError as error:
            raise Unavailable("the event tables are busy (a writer is stuck); retry shortly") from error

    def limits(self) -> Limits:
        return Limits(
            self.settings.aggregation_pass_rows, self.settings.max_reference_rows, self.cache.layouts
        )

    def run_once(self) -> tuple[bool, int, int]:
        """One model's pass: (caught up, predictions folded, late labels folded).

        The committed high water is read once per sweep; the sweep is caught up when no model
        is left with events below it that this worker may fold (others may be folding some)."""
        started = self.timing.start()
        if self._high_water is None:
            try:
                self._high_water = self.read_high_water()
            except OperationalError as error:  # lock_timeout: a writer is stuck; try next round
                log.warning("aggregation: event tables busy, retrying later (%s)", error.orig)
                return True, 0, 0
        mark, limits = self._high_water, self.limits()
        with self.timing.counting_failures(), unit_of_work(self.sessions) as session:
            now = self.clock()
            held, due = failures.model_units(session, self.name, now)
            result = aggregate_pass(
                session, now=now, high_water=mark.ids, max_rows=limits.max_rows,
                max_reference_rows=limits.max_reference_rows, parsed=limits.parsed,
                high_water_at=mark.at, held=held, retry=due,
            )  # fmt: skip
            if result.claimed:
                schedule_each_model(session, result, now)
                failures.settle(
                    session, job=self.name, now=now, failed=result.failed, recovered=result.recovered
                )
        self.timing.succeeded(self.timing.elapsed(started))
        if not result.claimed:
            self._high_water = None  # caught up with it: the next sweep reads a new one
        return not result.claimed, result.predictions, result.late_labels

    def catch_up(self, max_passes: int | None = None) -> int:
        """Passes until every committed event is folded in (or ``max_passes`` ran); returns
        the predictions folded."""
        folded, caught_up, passes = 0, False, 0
        while not caught_up and (max_passes is None or passes < max_passes):
            caught_up, predictions, _ = self.run_once()
            folded += predictions
            passes += 1
        return folded


class EvaluationJob:
    """Window evaluations against one database; each stored run goes to ``publisher``."""

    name = "evaluation"

    def __init__(
        self, sessions: sessionmaker[Session], clock: Clock, cache: ProfileCache, publisher: RunPublisher
    ) -> None:
        self.sessions, self.clock, self.cache, self.publisher = sessions, clock, cache, publisher
        self.timing = JobTiming(self.name, clock)

    def run_once(
        self, limit: int = 8, model_id: int | None = None, ends: tuple[datetime, datetime] | None = None
    ) -> int:
        """Evaluate up to ``limit`` due windows (of one model, ending in (ends[0], ends[1]],
        when given) in one transaction; returns how many ran."""
        with self.timing.run(), unit_of_work(self.sessions) as session:
            return evaluate_due(
                session, self.clock(), self.cache, self.publisher, limit=limit, model_id=model_id, ends=ends
            )

    def pause(self, interval: float) -> float:
        """Seconds to rest once caught up: ``interval``, or less when a window ends sooner, so
        a window is evaluated ~1 s after it ends rather than up to ``interval`` later."""
        try:
            with unit_of_work(self.sessions) as session:
                now = self.clock()
                upcoming = window_repository.next_window_end(session, now)
        except OperationalError:
            return interval
        if upcoming is None:
            return interval
        return max(min(interval, (upcoming - now).total_seconds() + WINDOW_END_GRACE_SECONDS), 0.0)
