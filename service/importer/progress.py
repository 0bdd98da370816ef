"""The progress line on stderr: rows sent of the total, rows/s since the start, time left.

On a terminal the line is redrawn in place at most 5 times a second; into a file or a pipe a
line is written every 5 seconds, so a CI log of an hour's import holds ~720 lines, not 10^5.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

TERMINAL_INTERVAL_SECONDS = 0.2
LOG_INTERVAL_SECONDS = 5.0


def clock_text(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


@dataclass
class Progress:
    total: int
    stream: TextIO
    skipped: int = 0  # rows a resume leaves out: done, but not sent by this run
    clock: Callable[[], float] = time.monotonic
    done: int = field(init=False)
    started: float = field(init=False)
    shown_at: float = field(init=False)

    def __post_init__(self) -> None:
        self.done = self.skipped
        self.started = self.clock()
        self.shown_at = float("-inf")

    def advance(self, rows: int) -> None:
        """``rows`` more rows sent and acknowledged."""
        self.done += rows
        now = self.clock()
        interval = TERMINAL_INTERVAL_SECONDS if self.stream.isatty() else LOG_INTERVAL_SECONDS
        if now - self.shown_at >= interval or self.done >= self.total:
            self.shown_at = now
            self._show(now)

    def rate(self, now: float) -> float:
        """Rows per second sent by this run."""
        return (self.done - self.skipped) / max(now - self.started, 1e-9)

    def line(self, now: float) -> str:
        elapsed = now - self.started
        rate = self.rate(now)
        left = max(self.total - self.done, 0)
        eta = clock_text(left / rate) if rate > 0 else "?"
        share = self.done / self.total if self.total else 1.0
        return (
            f"{self.done:,} / {self.total:,} rows ({share:.0%})  {rate:,.0f} rows/s  "
            f"elapsed {clock_text(elapsed)}  ETA {eta}"
        )

    def _show(self, now: float) -> None:
        if self.stream.isatty():
            self.stream.write("\r\x1b[K" + self.line(now))
        else:
            self.stream.write(self.line(now) + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.stream.isatty():
            self.stream.write("\n")
            self.stream.flush()
