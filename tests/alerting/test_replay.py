"""``alerting.replay``: the alert rules applied to a sequence of windows in memory (the backtest)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from service.alerting.replay import Replay, Subject
from service.kernel.states import FigureStatus
from service.monitors.plans import alerting_policy
from service.monitors.schemas import MonitorConfig
from service.windows.figures_base import Figure

T0 = datetime(2026, 12, 1, tzinfo=UTC)
INCOME = Subject("drift", "drift_score", "income", "", "")


def window(i: int) -> tuple[datetime, datetime]:
    return T0 + timedelta(hours=i), T0 + timedelta(hours=i + 1)


def drift(value: float, seen: str) -> list[Figure]:
    status = FigureStatus(seen)
    return [
        Figure("drift", "drift_score", feature="income", value=value, threshold=0.1, status=status),
        Figure("drift", "p_value", feature="income", value=0.001, threshold=0.05, status=status),
    ]


def replay(statuses: Sequence[tuple[float, str] | None], config: MonitorConfig | None = None) -> Replay:
    r = Replay(alerting_policy(config or MonitorConfig()))
    for i, seen in enumerate(statuses):
        r.apply(window(i), [] if seen is None else drift(*seen))
    return r


def test_drift_fires_after_two_consecutive_alerting_windows_once() -> None:
    episodes = replay([(0.2, "alert"), (0.2, "alert"), (0.25, "alert")]).finish()
    assert len(episodes) == 1  # the p_value shares drift_score's verdict: one alert
    assert (episodes[0].subject, episodes[0].fired_window_end) == (INCOME, window(1)[1])
    assert episodes[0].resolved_window_end is None


def test_watch_breaks_a_pending_streak() -> None:
    assert replay([(0.2, "alert"), (0.2, "watch"), (0.2, "alert")]).finish() == []


def test_watch_keeps_a_firing_alert_firing_and_ok_past_the_band_resolves_it() -> None:
    statuses = [(0.2, "alert"), (0.2, "alert"), (0.2, "watch"), (0.09, "ok"), (0.05, "ok")]
    (episode,) = replay(statuses).finish()  # 0.09 is inside the band: resolves below 0.08
    assert episode.fired_window_end == window(1)[1]
    assert episode.resolved_window_end == window(4)[1]


def test_a_figure_no_longer_reported_resolves() -> None:
    (episode,) = replay([(0.2, "alert"), (0.2, "alert"), None]).finish()
    assert episode.resolved_window_end == window(2)[1]


def test_the_proposed_alerting_section_is_honoured() -> None:
    once = MonitorConfig(alerting={"drift": {"fire_after": 1}})
    off = MonitorConfig(alerting={"drift": {"enabled": False}})
    assert [e.fired_window_end for e in replay([(0.2, "alert")], once).finish()] == [window(0)[1]]
    assert replay([(0.2, "alert"), (0.2, "alert")], off).finish() == []
