"""Time parameters of requests (``from``/``to``/``since``), validated the same way everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.errors import FieldError, Invalid


def utc_parameter(name: str, moment: datetime) -> datetime:
    """``moment`` in UTC; 422 naming ``name`` when it has no timezone or leaves years 1-9999."""
    if moment.utcoffset() is None:
        raise Invalid("timestamps need a timezone", [FieldError(None, name, "add Z or an offset")])
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise Invalid(
            "timestamp out of range", [FieldError(None, name, "outside years 1-9999 in UTC")]
        ) from None


def checked_range(start: datetime, end: datetime, longest: timedelta) -> tuple[datetime, datetime]:
    """[from, to) in UTC: non-empty and at most ``longest`` long, else 422 naming the parameter."""
    start, end = utc_parameter("from", start), utc_parameter("to", end)
    if start >= end:
        raise Invalid("the range is empty", [FieldError(None, "to", "must be after `from`")])
    if end - start > longest:
        days = longest.days
        raise Invalid("the range is too long", [FieldError(None, "to", f"at most {days} days after `from`")])
    return start, end
