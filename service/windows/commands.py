"""`modelmon backfill`: fold every committed event, then re-evaluate a model's windows, with a
progress bar on the terminal."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import TextIO

from sqlalchemy.orm import Session

from service.aggregation import queries as aggregation_queries
from service.kernel import grid
from service.monitors.service import load_config
from service.registry.service import load_model
from service.storage.database import unit_of_work
from service.windows import repository as window_repository
from service.windows.jobs import AggregationJob, EvaluationJob

# Aggregation passes between two progress lines while folding (a pass is ≤ ~1 s).
PASSES_PER_LINE = 10


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


def fold_all(aggregation: AggregationJob, out: TextIO) -> int:
    """Aggregate until every committed event is folded in, a progress line on ``out`` every
    ``PASSES_PER_LINE`` passes; returns the predictions folded."""
    folded, caught_up, passes, started = 0, False, 0, time.monotonic()
    while not caught_up:
        caught_up, predictions, _ = aggregation.run_once()
        folded += predictions
        passes += 1
        if passes % PASSES_PER_LINE == 0:
            rate = folded / max(time.monotonic() - started, 1e-9)
            out.write(f"aggregating: {folded} predictions folded ({rate:,.0f}/s)\n")
            out.flush()
    return folded


def force_schedule(
    session: Session, model_id: int, version_id: int, windows: list[grid.Window], generation: int
) -> None:
    """Make every window pending again (a backfill re-evaluates even up-to-date windows)."""
    window_repository.schedule(
        session, model_id=model_id, version_id=version_id, windows=windows, generation=generation,
        horizon=grid.EPOCH,
    )  # fmt: skip
    window_repository.reopen(session, version_id, windows)


def _schedule_backfill(
    evaluation: EvaluationJob, model: str, start: datetime, end: datetime
) -> tuple[int, int]:
    """(model id, windows scheduled): every grid window of ``model`` ending in (start, end]."""
    with unit_of_work(evaluation.sessions) as session:
        registered = load_model(session, model)
        config, _ = load_config(session, registered.model_id)
        state = aggregation_queries.model_progress(session).get(registered.model_id)
        generation = 0 if state is None else state.generation
        layouts = aggregation_queries.active_layouts(
            session, [spec.version_id for spec in registered.versions.values()]
        )
        windows = grid.windows_between(start, end, step=config.step, window=config.window)
        scheduled = 0
        for spec in registered.versions.values():
            if spec.version_id in layouts:
                force_schedule(session, registered.model_id, spec.version_id, windows, generation)
                scheduled += len(windows)
    return registered.model_id, scheduled


def backfill(
    aggregation: AggregationJob,
    evaluation: EvaluationJob,
    model: str,
    start: datetime,
    end: datetime,
    out: TextIO = sys.stderr,
) -> int:
    """Evaluate every grid window of ``model`` ending in (start, end] as a new revision.

    Folds every committed event first; returns the number of windows evaluated here
    (workers running at the same time may take some of them).
    """
    folded = fold_all(aggregation, out)
    out.write(f"aggregated: {folded} new predictions folded\n")
    model_id, scheduled = _schedule_backfill(evaluation, model, start, end)
    progress, done = Progress(scheduled, f"backfill {model}", out), 0
    while True:
        ran = evaluation.run_once(limit=16, model_id=model_id, ends=(start, end))
        done += ran
        progress.update(done)
        if ran == 0:
            break
    progress.finish()
    return done
