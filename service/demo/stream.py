"""Streaming the simulated weeks: applications as they happen, outcomes when they arrive.

Simulated time advances in one-hour slices. For each slice the stream waits for the pace
to reach its start, posts the slice's predictions and the outcomes that arrive in it, then
lets the clock run to the slice's end (``Pacer.open_until``). Every record is timestamped
with the server's clock (``Timeline``), so the server sees a live model service, and a
progress line on stderr shows the simulated date, what was sent and the alerts so far.
"""

from __future__ import annotations

import heapq
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TextIO

import numpy as np

from service.demo.api import Api
from service.demo.scenario import DAY, HOUR, Applicants, Timeline, World

SLICE_SECONDS = HOUR  # scenario seconds per slice
CHUNK = 5_000  # records per request, half the default MODELMON_MAX_BATCH_SIZE
PROGRESS_EVERY_SECONDS = 0.5  # real seconds between progress refreshes on a terminal
ALERT_POLL_SECONDS = 1.0


class Pacer(Protocol):
    """How simulated time moves: :class:`service.demo.server.SimulatedClock` or real time."""

    def wait_until(self, moment: datetime) -> None: ...

    def open_until(self, moment: datetime) -> None: ...


class RealTime:
    """The pace of a server on the real clock: wait for the wall clock, no gate to open."""

    def wait_until(self, moment: datetime) -> None:
        ahead = (moment - datetime.now(UTC)).total_seconds()
        if ahead > 0:
            time.sleep(ahead)

    def open_until(self, moment: datetime) -> None:
        pass


@dataclass
class Sent:
    predictions: int = 0
    outcomes: int = 0
    approved: int = 0
    pending: list[tuple[float, str, int]] = field(default_factory=list)  # (arrives at, id, label)


def prediction_records(batch: Applicants, timeline: Timeline, first_id: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"app-{first_id + i:07d}",
            "timestamp": timeline.at(float(batch.t[i])).isoformat(),
            "features": batch.features(i),
            "prediction": int(batch.decision[i]),
            "score": round(float(batch.score[i]), 4),
            "attributes": batch.attributes(i),
        }
        for i in range(len(batch))
    ]


class Progress:
    """One line rewritten in place on a terminal; a line every tenth of the run otherwise."""

    def __init__(self, timeline: Timeline, end: float, out: TextIO = sys.stderr) -> None:
        self.timeline, self.end, self.out = timeline, end, out
        self.tty = out.isatty()
        self._shown_tenth = -1
        self._last = 0.0

    def show(self, at: float, sent: Sent, alerts: int, webhooks: int, *, final: bool = False) -> None:
        share = min(at / self.end, 1.0)
        moment = self.timeline.at(at)
        bar = "#" * int(share * 24)
        text = (
            f"{moment:%Y-%m-%d %H:%M} day {at / DAY:4.1f}/{self.end / DAY:.0f} [{bar:<24}] "
            f"{sent.predictions:,} predictions, {sent.outcomes:,} outcomes, "
            f"{alerts} alerts fired, {webhooks} webhooks"
        )
        if self.tty:
            if final or time.monotonic() - self._last >= PROGRESS_EVERY_SECONDS:
                self._last = time.monotonic()
                self.out.write("\r" + text + ("\n" if final else ""))
        elif int(share * 10) != self._shown_tenth:  # the last slice already printed 100 %
            self._shown_tenth = int(share * 10)
            self.out.write(text + "\n")
        self.out.flush()


class Stream:
    """Posts the scenario's traffic for ``model`` from scenario time 0 to the plan's end."""

    def __init__(
        self,
        api: Api,
        model: str,
        world: World,
        timeline: Timeline,
        pacer: Pacer,
        per_day: float,
        counters: Callable[[], tuple[int, int]],
    ) -> None:
        self.api, self.model, self.world, self.timeline, self.pacer = api, model, world, timeline, pacer
        self.per_day = per_day
        self.counters = counters  # (alerts fired, webhooks received) for the progress line
        self.sent = Sent()
        self.progress = Progress(timeline, world.plan.end)
        self._counted: tuple[int, int] = (0, 0)
        self._counted_at = 0.0

    def run(self) -> Sent:
        end = self.world.plan.end
        starts = np.arange(0.0, end, SLICE_SECONDS)
        for start in starts:
            until = min(float(start) + SLICE_SECONDS, end)
            self.pacer.wait_until(self.timeline.at(float(start)))
            self._post_slice(float(start), until)
            self.pacer.open_until(self.timeline.at(until))
            self._show(until)
        self._show(end, final=True)
        return self.sent

    def _post_slice(self, start: float, until: float) -> None:
        batch = self.world.applicants(self.world.arrivals(start, until, self.per_day))
        records = prediction_records(batch, self.timeline, self.sent.predictions)
        for i in range(0, len(records), CHUNK):
            self.api.post(f"/v1/models/{self.model}/predictions", {"predictions": records[i : i + CHUNK]})
        for i, record in enumerate(records):
            if np.isfinite(batch.label_at[i]):
                heapq.heappush(
                    self.sent.pending, (float(batch.label_at[i]), record["id"], int(batch.label[i]))
                )
        self.sent.predictions += len(records)
        self.sent.approved += int(batch.decision.sum())
        self._post_outcomes(until)

    def _post_outcomes(self, until: float) -> None:
        """Every outcome that arrives before ``until``, stamped with its arrival time."""
        due: list[dict[str, Any]] = []
        while self.sent.pending and self.sent.pending[0][0] < until:
            arrives, prediction_id, label = heapq.heappop(self.sent.pending)
            due.append(
                {
                    "prediction_id": prediction_id,
                    "label": label,
                    "timestamp": self.timeline.at(arrives).isoformat(),
                }
            )
        for i in range(0, len(due), CHUNK):
            self.api.post(f"/v1/models/{self.model}/outcomes", {"outcomes": due[i : i + CHUNK]})
        self.sent.outcomes += len(due)

    def _show(self, at: float, *, final: bool = False) -> None:
        if final or time.monotonic() - self._counted_at >= ALERT_POLL_SECONDS:
            self._counted_at = time.monotonic()
            self._counted = self.counters()
        self.progress.show(at, self.sent, *self._counted, final=final)
