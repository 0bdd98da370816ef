"""The one decision path from window figures to alerts, shared by live alerting and backtests.

``observe`` turns one stored figure into the rule and ``Observation`` its fingerprint's
``ThresholdRule`` steps on (which figures are judged at all, the hysteresis band);
``Replay`` applies the rules to a sequence of windows in memory, exactly as live alerting
(``service.alerting.service.ModelRules``) applies them to stored runs: one track per
fingerprint, an alert opened on the first alerting window, dropped when its pending streak
breaks, firing after ``fire_after`` consecutive alerting windows, resolving past the resolve
threshold, and resolving when its figure is no longer reported. A backtest therefore
reports the alerts live alerting would have raised on the same history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from service.alerting.bands import hysteresis_band
from service.alerting.rules import ABSENT, Observation, Phase, Step, ThresholdRule, TrackState, direction_of
from service.kernel.states import FigureStatus
from service.monitors.plans import AlertingPolicy, FamilyPolicy
from service.monitors.policy import Severity


@dataclass(frozen=True, slots=True)
class Subject:
    """What one fingerprint is about; absent parts are ''."""

    family: str
    metric: str
    feature: str
    attribute: str
    group: str


class FigureLike(Protocol):
    """A window figure as stored (``Evaluation``, '' for absent parts) or computed (``Figure``)."""

    @property
    def family(self) -> str: ...
    @property
    def metric(self) -> str: ...
    @property
    def feature(self) -> str | None: ...
    @property
    def attribute(self) -> str | None: ...
    @property
    def group(self) -> str | None: ...
    @property
    def value(self) -> float | None: ...
    @property
    def threshold(self) -> float | None: ...
    @property
    def status(self) -> str: ...


def subject_of(figure: FigureLike) -> Subject:
    return Subject(
        figure.family, figure.metric, figure.feature or "", figure.attribute or "", figure.group or ""
    )


_Q_VALUES = frozenset({"p_value", "multivariate_p_value"})


def judged_rule(policy: AlertingPolicy, figure: FigureLike) -> FamilyPolicy | None:
    """The family rule that judges ``figure``; None when the family is off or the figure is a
    drift q-value (``p_value``, ``multivariate_p_value``: it shares its effect size's verdict,
    so one alert per drifted column)."""
    rule = policy.rule_for(figure.family)
    if rule is None or not rule.enabled or (figure.family == "drift" and figure.metric in _Q_VALUES):
        return None
    return rule


def observe(
    policy: AlertingPolicy,
    rule: FamilyPolicy,
    figure: FigureLike,
    window: tuple[datetime, datetime],
    direction: str,
) -> Observation:
    """The observation of ``figure`` in ``window``; ``direction`` is the open alert's ("" if none)."""
    band = 0.0
    if figure.value is not None and figure.threshold is not None:
        side = direction or direction_of(figure.value, figure.threshold)
        band = hysteresis_band(
            policy.relative, rule.resolve_margin, figure.family, figure.metric, figure.threshold, side
        )
    return Observation(window[0], window[1], figure.status, figure.value, figure.threshold, band)


@dataclass(frozen=True, slots=True)
class Episode:
    """One alert as the rules raise it: fired at the end of window ``fired_window_end``,
    resolved at ``resolved_window_end`` (None: still firing at the end of the replay)."""

    subject: Subject
    severity: Severity
    direction: str
    fired_window_end: datetime
    resolved_window_end: datetime | None
    value: float | None
    threshold: float | None


@dataclass(slots=True)
class _Track:
    state: TrackState
    rule: FamilyPolicy
    fired: Episode | None = None


class Replay:
    """The rules of one model version's fingerprints applied window by window, in memory."""

    def __init__(self, policy: AlertingPolicy) -> None:
        self.policy = policy
        self.tracks: dict[Subject, _Track] = {}
        self.episodes: list[Episode] = []

    def apply(self, window: tuple[datetime, datetime], figures: Iterable[FigureLike]) -> None:
        """Apply one window's figures; windows must come in window-end order."""
        seen: set[Subject] = set()
        for figure in figures:
            rule = judged_rule(self.policy, figure)
            if rule is None:
                continue
            subject = subject_of(figure)
            seen.add(subject)
            track = self.tracks.get(subject)
            if track is None and figure.status != FigureStatus.ALERT:
                continue  # only a subject that once alerted is tracked
            if track is None:
                track = self.tracks[subject] = _Track(TrackState(), rule)
            self._step(
                subject, track, rule, observe(self.policy, rule, figure, window, track.state.direction)
            )
        for subject, track in list(self.tracks.items()):
            if subject not in seen and track.state.phase in (Phase.PENDING, Phase.FIRING):
                gone = Observation(window[0], window[1], ABSENT, None, None)
                self._step(subject, track, track.rule, gone)

    def _step(self, subject: Subject, track: _Track, rule: FamilyPolicy, seen: Observation) -> None:
        result: Step = ThresholdRule(rule).step(track.state, seen)
        track.state, track.rule = result.state, rule
        if result.transition is None:
            return
        after = result.transition[1]
        if after is Phase.FIRING:
            track.fired = Episode(
                subject,
                rule.severity,
                result.state.direction,
                seen.window_end,
                None,
                seen.value,
                seen.threshold,
            )
        elif after is Phase.RESOLVED and track.fired is not None:
            self.episodes.append(replace(track.fired, resolved_window_end=seen.window_end))
            track.fired = None
        if after in (Phase.RESOLVED, Phase.NONE):
            track.state = replace(result.state, phase=Phase.NONE)

    def finish(self) -> list[Episode]:
        """Every alert that fired, in the order it fired; those still firing last have no resolve."""
        still = [t.fired for t in self.tracks.values() if t.fired is not None]
        return sorted([*self.episodes, *still], key=lambda e: (e.fired_window_end, str(e.subject)))
