"""The window grid: which windows exist, which a bucket belongs to, how a window is assembled.

Windows end on multiples of ``step`` counted from the Unix epoch (UTC) and are
``window`` long, so a window is [end − window, end). A bucket [b, b + bucket) lies in
every window whose end e satisfies b + bucket ≤ e ≤ b + window.

A window is merged from the fewest stored profiles: whole UTC days, then whole hours,
then buckets (``pieces``): at most 23 + 6 + 23 = 52 hour and day profiles (plus buckets
when the step is not a whole hour) for a 7-day window, instead of 2,016 5-minute buckets.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.monitors.durations import DAY, HOUR

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Window = tuple[datetime, datetime]


def seconds_since_epoch(moment: datetime) -> int:
    return int((moment - EPOCH).total_seconds())


def at(seconds: int) -> datetime:
    return EPOCH + timedelta(seconds=seconds)


def floor(moment: datetime, seconds: int) -> datetime:
    """The start of the ``seconds``-long slot (aligned to the epoch) holding ``moment``."""
    return at(seconds_since_epoch(moment) // seconds * seconds)


def windows_containing(bucket_start: datetime, *, bucket: int, step: int, window: int) -> list[Window]:
    """Every grid window that contains the bucket starting at ``bucket_start``."""
    b = seconds_since_epoch(bucket_start)
    first = -(-(b + bucket) // step) * step  # ceil to the grid
    last = (b + window) // step * step
    return [(at(e - window), at(e)) for e in range(first, last + 1, step)]


def windows_between(start: datetime, end: datetime, *, step: int, window: int) -> list[Window]:
    """Grid windows whose end lies in (start, end]."""
    first = seconds_since_epoch(start) // step * step + step
    last = seconds_since_epoch(end) // step * step
    return [(at(e - window), at(e)) for e in range(first, last + 1, step)]


def pieces(start: datetime, end: datetime, *, bucket: int) -> dict[int, list[datetime]]:
    """Level (0 bucket, 1 hour, 2 day) → starts of the stored profiles that tile [start, end)."""
    out: dict[int, list[datetime]] = {0: [], 1: [], 2: []}
    s, e = seconds_since_epoch(start), seconds_since_epoch(end)
    while s < e:
        if s % DAY == 0 and s + DAY <= e:
            out[2].append(at(s))
            s += DAY
        elif s % HOUR == 0 and s + HOUR <= e:
            out[1].append(at(s))
            s += HOUR
        else:
            out[0].append(at(s))
            s += bucket
    return out


def is_aligned(moment: datetime, seconds: int) -> bool:
    return seconds_since_epoch(moment) % seconds == 0 and moment.microsecond == 0
