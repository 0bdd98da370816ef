"""The demo's pieces: its clock, the API bodies it sends, how it matches alerts to problems,
and its refusal to start when --charts cannot be honoured."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import pytest

from service.demo import charts
from service.demo.command import EXIT_ERROR, add_arguments, run
from service.demo.prepare import monitor_config, reference_rows, registration
from service.demo.scenario import DAY, HOUR, Timeline, World, plan_for
from service.demo.server import SimulatedClock
from service.demo.summary import Detection, findings_of, windows_between
from tests.asgi_client import AppClient

START = datetime(2026, 10, 11, tzinfo=UTC)


@pytest.mark.slow
def test_the_clock_waits_at_its_gate_and_then_keeps_pace() -> None:
    clock = SimulatedClock(START, speed=36_000.0)  # ten hours per real second
    clock.wait_until(START + timedelta(hours=5))
    assert clock() == START  # the pace is past 5 h, the gate holds the clock
    clock.open_until(START + timedelta(hours=2))
    assert clock() == START + timedelta(hours=2)
    clock.open_until(START + timedelta(hours=1))  # never backwards
    assert clock() == START + timedelta(hours=2)
    clock.resume()  # pace on from the gate instead of jumping ahead
    clock.open_until(START + timedelta(days=30))
    assert START + timedelta(hours=2) <= clock() < START + timedelta(hours=7)  # 0.5 s of slack
    clock.wait_until(START + timedelta(hours=9))
    assert clock() >= START + timedelta(hours=9)


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        SimulatedClock(datetime(2026, 10, 11), speed=10.0)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("scale", "window", "step", "bucket"), [(1.0, "1d", "6h", "1h"), (60 / DAY, "1m", "1m", "1m")]
)
def test_the_demo_bodies_are_accepted_by_the_api(
    client: AppClient, scale: float, window: str, step: str, bucket: str
) -> None:
    """Both grids (the demo's own accelerated server, and real time with --url) are valid
    monitor configurations, and registration and reference are stored as sent."""
    plan, timeline = plan_for(3), Timeline(START, scale=scale)
    assert client.post("/v1/models", json=registration("credit-scoring", "2026-10-11")).status_code == 201
    answer = client.put("/v1/models/credit-scoring/monitor", json=monitor_config(plan, timeline, 4000))
    assert answer.status_code == 200, answer.text
    config = answer.json()["config"]
    assert (config["window"], config["step"], config["bucket"]) == (window, step, bucket)
    assert config["fairness"]["intersections"] == []
    assert config["performance"]["min_labelled"] == 2000  # half a day of applications
    rows = reference_rows(World(1, plan), rows=300)
    uploaded = client.post("/v1/models/credit-scoring/reference", json={"rows": rows})
    assert uploaded.status_code in (200, 201), uploaded.text
    assert uploaded.json()["rows"] == 300


def _detection(alert_id: int, family: str, metric: str, window_end: datetime, **subject: str) -> Detection:
    return Detection(
        alert_id=alert_id,
        family=family,
        metric=metric,
        feature=subject.get("feature"),
        attribute=subject.get("attribute"),
        group=None,
        value=0.2,
        threshold=0.1,
        first_window_end=window_end,
        fired_at=window_end,
    )


def test_alerts_are_matched_to_the_problem_they_caught() -> None:
    plan, timeline = plan_for(6), Timeline(START)
    income_start = timeline.at(plan.income_start)
    detections = [
        _detection(1, "drift", "drift_score", income_start - timedelta(hours=6), feature="income"),
        _detection(2, "drift", "drift_score", income_start + timedelta(hours=30), feature="income"),
        _detection(3, "drift", "drift_score", income_start + timedelta(days=3), feature="score"),
        _detection(
            4, "fairness", "equal_opportunity_difference", timeline.at(plan.end), attribute="age_band"
        ),
    ]
    findings, others = findings_of(detections, plan, timeline, step=int(6 * HOUR))
    income = next(f for f in findings if f.injection.name == "income shift")
    # The alert on a window that ended before the shift began is a false alarm, not a catch.
    assert [d.alert_id for d in income.detections] == [2]
    assert income.windows_after == windows_between(income_start, income_start + timedelta(hours=30), 6 * 3600)
    assert sorted(d.alert_id for d in others) == [1, 3, 4]  # a label-based gap does not count
    assert not next(f for f in findings if f.injection.name.startswith("selection gap")).caught


def test_windows_between_counts_grid_ends() -> None:
    start = datetime(2026, 10, 19, 10, tzinfo=UTC)
    assert windows_between(start, datetime(2026, 10, 19, 12, tzinfo=UTC), 6 * 3600) == 1
    assert windows_between(start, datetime(2026, 10, 22, 12, tzinfo=UTC), 6 * 3600) == 13


def test_charts_without_matplotlib_fail_fast_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(charts, "available", lambda: False)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert run(parser.parse_args(["--charts", "out"])) == EXIT_ERROR
    assert "`charts` extra" in capsys.readouterr().err


def test_options_are_checked() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--weeks", "1"])
    with pytest.raises(SystemExit):
        parser.parse_args(["--duration", "0"])
    assert parser.parse_args([]).weeks == 6.0
