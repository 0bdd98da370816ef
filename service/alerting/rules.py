"""The alert rules: pure functions from a track's state and one observation to its next state.

No database, no clock: the caller passes ``now`` and the stored state, and stores what comes
back. Tests drive these directly with a frozen clock.

Lifecycle of one fingerprint (model, version, family, metric, feature, attribute, group):

    none ──alert──▶ pending ──(fire_after consecutive alerting windows)──▶ firing
      ▲               │ ok / watch / insufficient (streak broken: dropped, unnotified) │
      └───────────────┘                                                            │
      └───────────────────── value past the resolve threshold ◀─────────────────────┘

Windows are applied in window-end order; an older window than the last applied one (a
re-evaluation after late labels) is history, not news. Only ``alert`` (past the threshold on
evidence: service/windows/figures_base.py) counts towards ``fire_after``. A *provisional*
performance window and an ``insufficient_data`` one never fire; provisional ones are skipped
entirely (the final evaluation of the same window arrives later), insufficient ones break a
pending streak but do not resolve a firing alert (no evidence either way). ``watch`` (the point
estimate past the threshold, the interval not) likewise breaks a pending streak and keeps a
firing alert firing: the value is not back on the healthy side, so it cannot resolve.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from service.kernel.states import FigureStatus
from service.monitors.plans import FamilyPolicy

# The status of a tracked figure that a window no longer reports (its feature or family was
# removed): never stored, so not a FigureStatus.
ABSENT = "absent"


class Phase(StrEnum):
    NONE = "none"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Observation:
    """One window's figure for one fingerprint; ``status`` a ``FigureStatus`` as stored, or
    ``ABSENT`` when the window no longer reports it."""

    window_start: datetime
    window_end: datetime
    status: str
    value: float | None
    threshold: float | None
    band: float = 0.0  # hysteresis width in the metric's units (``service/alerting/bands.py``)


@dataclass(frozen=True, slots=True)
class TrackState:
    """What a fingerprint's rule remembers between windows."""

    phase: Phase = Phase.NONE
    streak: int = 0
    last_window_end: datetime | None = None
    direction: str = ""


@dataclass(frozen=True, slots=True)
class Step:
    """The next state, the transition made (None: the phase did not change) and the resolve
    threshold in force (None without a threshold)."""

    state: TrackState
    transition: tuple[Phase, Phase] | None = None
    resolve_threshold: float | None = None


def direction_of(value: float, threshold: float) -> str:
    """ "high" when ``value`` broke an upper bound, "low" a lower one."""
    return "high" if value > threshold else "low"


def resolve_threshold(threshold: float, direction: str, band: float) -> float:
    """The bound a firing value must get back past: threshold − band for an upper bound,
    threshold + band for a lower one."""
    return threshold - band if direction == "high" else threshold + band


def _healthy(value: float, bound: float, direction: str) -> bool:
    return value <= bound if direction == "high" else value >= bound


class ThresholdRule:
    """A figure that fires after ``fire_after`` consecutive alerting windows and resolves once
    its value is ``band`` past the threshold on the healthy side (hysteresis)."""

    def __init__(self, rule: FamilyPolicy) -> None:
        self.rule = rule

    def step(self, state: TrackState, seen: Observation) -> Step:
        if state.last_window_end is not None and seen.window_end <= state.last_window_end:
            return Step(state)  # an older window re-evaluated: history, not news
        if seen.status == FigureStatus.PROVISIONAL:
            return Step(state)  # the final evaluation of this window comes later
        moved = replace(state, last_window_end=seen.window_end)
        if seen.status == FigureStatus.ALERT and seen.value is not None and seen.threshold is not None:
            return self._alerting(moved, seen.value, seen.threshold, seen.band)
        if state.phase is Phase.PENDING:
            return Step(replace(moved, phase=Phase.NONE, streak=0, direction=""), (Phase.PENDING, Phase.NONE))
        if state.phase is Phase.FIRING:
            return self._maybe_resolve(moved, seen)
        return Step(replace(moved, streak=0))

    def _alerting(self, state: TrackState, value: float, threshold: float, band: float) -> Step:
        direction = state.direction or direction_of(value, threshold)
        bound = resolve_threshold(threshold, direction, band)
        streak = state.streak + 1
        if state.phase is Phase.FIRING:
            return Step(replace(state, streak=streak), None, bound)
        target = Phase.FIRING if streak >= self.rule.fire_after else Phase.PENDING
        moved = replace(state, phase=target, streak=streak, direction=direction)
        transition = None if target is state.phase else (state.phase, target)
        return Step(moved, transition, bound)

    def _maybe_resolve(self, state: TrackState, seen: Observation) -> Step:
        if seen.status == ABSENT:
            return self._resolved(state, None)  # no longer evaluated (feature or family removed)
        if seen.status != FigureStatus.OK or seen.value is None or seen.threshold is None:
            return Step(state)  # insufficient data: no evidence either way
        bound = resolve_threshold(seen.threshold, state.direction, seen.band)
        if _healthy(seen.value, bound, state.direction):
            return self._resolved(state, bound)
        return Step(replace(state, streak=0), None, bound)  # inside the hysteresis band

    @staticmethod
    def _resolved(state: TrackState, bound: float | None) -> Step:
        return Step(
            replace(state, phase=Phase.NONE, streak=0, direction=""), (Phase.FIRING, Phase.RESOLVED), bound
        )


class NoDataRule:
    """Fires when a model that has sent predictions sends none for ``after`` seconds; resolves
    as soon as one arrives. Only models that have sent something are expected to send more."""

    def __init__(self, after_seconds: int | None) -> None:
        self.after = None if after_seconds is None else timedelta(seconds=after_seconds)

    def step(self, phase: Phase, last_received_at: datetime | None, now: datetime) -> Phase | None:
        """The new phase, or None when it does not change."""
        silent = (
            self.after is not None and last_received_at is not None and now - last_received_at >= self.after
        )
        if silent and phase is not Phase.FIRING:
            return Phase.FIRING
        if not silent and phase is Phase.FIRING:
            return Phase.RESOLVED
        return None
