"""The backfill progress bar: one line per tenth when the output is not a terminal."""

from __future__ import annotations

import io

from service.windows.commands import Progress


def test_a_pipe_gets_a_line_per_tenth_not_per_window() -> None:
    out = io.StringIO()
    progress = Progress(40, "backfill credit", out)
    for done in range(1, 41):
        progress.update(done)
    progress.finish()
    lines = out.getvalue().splitlines()
    assert len(lines) == 11  # tenths 0 through 10, each written once
    assert lines[-1].startswith("backfill credit [" + "#" * 30 + "] 40/40")
    assert "\r" not in out.getvalue()
