"""Time is a parameter: code that needs "now" takes a :data:`Clock`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The current time, UTC and timezone-aware."""
    return datetime.now(UTC)


def frozen_clock(at: datetime) -> Clock:
    """A clock that always answers ``at`` (tests)."""
    if at.tzinfo is None:
        raise ValueError("a frozen clock needs a timezone-aware datetime")
    return lambda: at
