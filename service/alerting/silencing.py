"""Silences: label matchers that mute an alert's notifications (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Matcher:
    """``name`` = ``value`` (or ``!=``; with ``regex``, an anchored regular expression, as in
    Alertmanager). A label the alert does not have matches as the empty string."""

    name: str
    value: str
    regex: bool = False
    equal: bool = True

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        hit = re.fullmatch(self.value, actual) is not None if self.regex else actual == self.value
        return hit == self.equal


@dataclass(frozen=True, slots=True)
class ActiveSilence:
    id: int
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at and all(m.matches(labels) for m in self.matchers)


def matchers_of(stored: Sequence[Mapping[str, Any]]) -> tuple[Matcher, ...]:
    return tuple(
        Matcher(str(m["name"]), str(m["value"]), bool(m.get("regex", False)), bool(m.get("equal", True)))
        for m in stored
    )


def muting(silences: Iterable[ActiveSilence], labels: Mapping[str, str], now: datetime) -> int | None:
    """The id of the first silence that mutes ``labels`` at ``now`` (lowest id), or None."""
    for silence in sorted(silences, key=lambda s: s.id):
        if silence.mutes(labels, now):
            return silence.id
    return None
