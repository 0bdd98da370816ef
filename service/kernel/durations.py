"""Durations in configuration: seconds (``3600``) or text with a unit (``"90s"``, ``"5m"``,
``"24h"``, ``"7d"``), always answered as text."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d{1,9})\s*([smhd])\s*$")
HOUR = 3600
DAY = 86400
MAX_WINDOW_SECONDS = 90 * DAY
MAX_LABEL_WAIT_SECONDS = 400 * DAY


def parse_duration(value: Any) -> int:
    """Seconds from ``3600`` or ``"1h"`` (units s, m, h, d)."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text such as '5m', '24h', '7d'")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return int(match.group(1)) * _UNITS[match.group(2)]
    raise ValueError("a duration is a number of seconds or text such as '5m', '24h', '7d'")


def format_duration(seconds: int) -> str:
    """The largest whole unit: 86400 → "1d", 5400 → "90m", 45 → "45s"."""
    for unit, size in (("d", DAY), ("h", HOUR), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


Duration = Annotated[
    int,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    Field(json_schema_extra={"type": "string", "examples": ["24h"]}),
]
