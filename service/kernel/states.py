"""The status of a figure (one statistic of one window run), one spelling for every floor.

Windows decide it, alerting's rules read it, the exports, the UI, the reports and the demo
show it, and ``evaluations.status`` stores it: a ``StrEnum`` member equals its string, so the
stored rows and the JSON are the strings below. It lives on the ground floor because the
engine's packages that use it (windows above alerting) may not import one another both ways.

- ``ok``: the value is on the healthy side of its threshold (or there is no threshold);
- ``alert``: past the threshold on evidence (the interval lies wholly beyond it, or the
  point in ``decision: point`` mode) — the only status that counts towards firing;
- ``watch``: the point estimate is past the threshold, the interval still reaches it
  (reported, never paged);
- ``insufficient_data``: no value (too few rows, or a non-finite result); never 0;
- ``provisional``: a label-based figure computed while labels are still arriving; its final
  evaluation comes later, so it is not alerted on.

The per-statistic statuses of ``service/stats`` ("ok", "drift", "insufficient_data") are
another vocabulary, typed there as ``Literal``s: they say whether a statistic could be
computed, not what the monitor decided.
"""

from __future__ import annotations

from enum import StrEnum


class FigureStatus(StrEnum):
    """``alert``: past the threshold on evidence (the interval lies beyond it); ``watch``: the
    point estimate is past the threshold but the interval still reaches it (never paged)."""

    OK = "ok"
    ALERT = "alert"
    WATCH = "watch"
    INSUFFICIENT_DATA = "insufficient_data"
    PROVISIONAL = "provisional"


# Figures computed on a value (the ones a provisional mark applies to).
COMPUTED = frozenset({FigureStatus.OK, FigureStatus.ALERT, FigureStatus.WATCH})
