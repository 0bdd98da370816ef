"""Time parameters of requests (``from``/``to``/``since``), validated the same way everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

from service.errors import FieldError, Invalid
from service.kernel import grid

_OFF_GRID = f"outside the years the window grid holds ({grid.FIRST:%Y} to {grid.LAST:%Y} UTC)"


def _on_grid(moment: datetime) -> datetime:
    if moment.utcoffset() is not None and not grid.on_grid(moment):
        raise ValueError(_OFF_GRID)
    return moment


# A time in a request body that windows are computed from (a naive one is left to the
# model's own check, which names the missing timezone).
GridMoment = Annotated[datetime, AfterValidator(_on_grid)]
AwareGridMoment = Annotated[AwareDatetime, AfterValidator(_on_grid)]


def utc_parameter(name: str, moment: datetime) -> datetime:
    """``moment`` in UTC; 422 naming ``name`` when it has no timezone or leaves the window grid
    (compared before converting: 0001-01-01T00:00:00+01:00 is before year 1 in UTC)."""
    if moment.utcoffset() is None:
        raise Invalid("timestamps need a timezone", [FieldError(None, name, "add Z or an offset")])
    if not grid.on_grid(moment):
        raise Invalid("timestamp out of range", [FieldError(None, name, _OFF_GRID)])
    return moment.astimezone(UTC)


def checked_range(start: datetime, end: datetime, longest: timedelta) -> tuple[datetime, datetime]:
    """[from, to) in UTC: non-empty and at most ``longest`` long, else 422 naming the parameter."""
    start, end = utc_parameter("from", start), utc_parameter("to", end)
    if start >= end:
        raise Invalid("the range is empty", [FieldError(None, "to", "must be after `from`")])
    if end - start > longest:
        days = longest.days
        raise Invalid("the range is too long", [FieldError(None, "to", f"at most {days} days after `from`")])
    return start, end
