"""The engine's acceptance scenario (tests/windows/scenario.py) on SQLite and Postgres,
and on Postgres the same scenario with one worker and with three in parallel."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest

from service.app import create_app
from service.config import Settings
from service.runner import Pipeline
from tests.asgi_client import AppClient, app_client
from tests.windows import scenario

Item = dict[str, Any]
DAY2 = scenario.START + timedelta(days=1)


@contextmanager
def scenario_client(
    database_url: str, workers: int = 1
) -> Iterator[tuple[AppClient, scenario.MutableClock, list[Pipeline]]]:
    """The app and ``workers`` job runners on one database, sharing a movable clock."""
    settings = Settings(database_url=database_url, run_jobs=False)
    clock = scenario.MutableClock(scenario.START)
    app = create_app(settings, clock=clock)
    crew = [Pipeline(app.state.context.sessions, settings, clock) for _ in range(workers)]
    try:
        with app_client(app) as client:
            yield client, clock, crew
    finally:
        app.state.context.engine.dispose()


def items(client: AppClient, **params: str) -> list[Item]:
    response = client.get("/v1/models/credit/evaluations", params={"limit": "50000", **params})
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next_offset"] is None
    result: list[Item] = page["items"]
    return result


def end_of(item: Item) -> datetime:
    return datetime.fromisoformat(item["window_end"])


def _round(jobs: Pipeline) -> None:
    jobs.run_round()


@pytest.fixture
def finished(database_url: str) -> Iterator[AppClient]:
    with scenario_client(database_url) as (client, clock, (jobs,)):
        scenario.run(client, clock, lambda: _round(jobs))
        yield client


def check_only_the_drifted_features_alert_and_only_once_drift_began(finished: AppClient) -> None:
    drift = items(finished, family="drift", metric="drift_score")
    features = [i for i in drift if i["feature"] not in ("prediction", "score")]
    alerting = {i["feature"] for i in features if i["status"] == "alert"}
    assert alerting == set(scenario.DRIFTED)
    for item in features:
        fully_drifted = datetime.fromisoformat(item["window_start"]) >= DAY2
        if item["feature"] in scenario.DRIFTED and fully_drifted:
            assert item["status"] == "alert", item
        if end_of(item) <= DAY2:
            assert item["status"] == "ok", item  # no false alarm before the drift
        assert item["threshold"] == pytest.approx(0.1)


def check_performance_is_provisional_until_labels_cover_the_window(finished: AppClient) -> None:
    history = items(finished, family="performance", metric="accuracy", revisions="all")
    by_window: dict[str, list[Item]] = {}
    for item in history:
        by_window.setdefault(item["window_end"], []).append(item)
    traffic_end = scenario.START + timedelta(days=scenario.DAYS)
    # Windows that end while traffic flows hold 12 h of unlabelled rows when first evaluated.
    full_windows = [
        w
        for w in by_window.values()
        if datetime.fromisoformat(w[0]["window_start"]) >= scenario.START and end_of(w[0]) <= traffic_end
    ]
    assert len(full_windows) >= 8
    for revisions in full_windows:
        revisions.sort(key=lambda i: i["revision"])
        coverage = [i["label_coverage"] for i in revisions]
        assert coverage == sorted(coverage) and coverage[-1] == pytest.approx(1.0)
        assert revisions[0]["status"] == "provisional" and revisions[0]["label_coverage"] < 0.8
        assert revisions[-1]["status"] in ("ok", "alert")
        assert [i["revision"] for i in revisions] == list(range(1, len(revisions) + 1))
    latest = items(finished, family="performance", metric="accuracy")
    assert len(latest) == len(by_window)  # one latest revision per window


def check_fairness_gap_alerts_with_its_interval_and_small_groups_are_insufficient(
    finished: AppClient,
) -> None:
    fairness = items(finished, family="fairness")
    parity = [
        i for i in fairness if i["metric"] == "statistical_parity_difference" and i["attribute"] == "sex"
    ]
    day3_windows = [
        i for i in parity if datetime.fromisoformat(i["window_start"]) >= DAY2 + timedelta(days=1)
    ]
    assert day3_windows and all(i["status"] == "alert" for i in day3_windows)
    for item in day3_windows:
        assert item["ci_low"] <= item["value"] <= item["ci_high"] and item["ci_low"] > 0.1
    before = [i for i in parity if end_of(i) <= DAY2 + timedelta(days=1)]
    assert before and all(i["status"] == "ok" for i in before)
    elderly = [i for i in fairness if i["group"] == "65+" and i["attribute"] == "age_band"]
    assert elderly and all(i["status"] == "insufficient_data" and i["value"] is None for i in elderly)


def check_every_figure_cites_the_reference_it_was_compared_with(finished: AppClient) -> None:
    status = finished.get("/v1/models/credit/monitor").json()["status"]
    assert status["pending_windows"] == 0 and status["lag_seconds"] == 0.0
    (layout,) = status["layouts"]
    assert layout["source"] == "reference" and layout["reference_rows"] == 3000
    assert {i["reference_hash"] for i in items(finished)} == {layout["reference_hash"]}


Episode = tuple[str, str, str | None, str | None, str | None, str, str | None]


def _live_episodes(client: AppClient) -> set[Episode]:
    """(subject, fired window end, resolved window end) of every alert live alerting fired."""
    episodes: set[Episode] = set()
    for alert in client.get("/v1/alerts", params={"limit": "1000"}).json()["items"]:
        if alert["family"] == "no_data":
            continue  # not a window figure: no backtest can replay it
        transitions = client.get(f"/v1/alerts/{alert['id']}").json()["transitions"]
        ends = {t["to_state"]: t["window_end"] for t in transitions}
        if "firing" in ends:
            subject = tuple(alert[k] for k in ("family", "metric", "feature", "attribute", "group"))
            episodes.add((*subject, ends["firing"], ends.get("resolved")))
    return episodes


def check_the_backtest_reports_the_alerts_live_alerting_raised(finished: AppClient) -> None:
    """The stored configuration backtested over the stored history raises exactly the alerts
    live alerting raised as the windows came in (same rules: fire_after, hysteresis, one alert
    per figure): every label-based window was final at the same, complete labels both times."""
    config = finished.get("/v1/models/credit/monitor").json()["config"]
    last = max(end_of(i) for i in items(finished, family="drift", metric="drift_score"))
    body = {"config": config, "start": scenario.START.isoformat(), "end": last.isoformat()}
    response = finished.post("/v1/models/credit/monitor/backtest", json=body)
    assert response.status_code == 200, response.text
    replayed = {
        (
            *(a[k] for k in ("family", "metric", "feature", "attribute", "group")),
            _utc(a["fired_window_end"]),
            _utc(a["resolved_window_end"]),
        )
        for a in response.json()["fired"]
    }
    live = {(*e[:5], _utc(e[5]), _utc(e[6])) for e in _live_episodes(finished)}
    assert {e[0] for e in live} >= {"drift", "fairness"}  # the scenario's injected problems
    assert replayed == live


def _utc(text: str | None) -> str | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()


@pytest.mark.slow
def test_the_scenario_yields_what_the_issue_asks(finished: AppClient) -> None:
    """One run of the scenario per database (~5-10 s), five sets of checks on it."""
    check_only_the_drifted_features_alert_and_only_once_drift_began(finished)
    check_performance_is_provisional_until_labels_cover_the_window(finished)
    check_fairness_gap_alerts_with_its_interval_and_small_groups_are_insufficient(finished)
    check_every_figure_cites_the_reference_it_was_compared_with(finished)
    check_the_backtest_reports_the_alerts_live_alerting_raised(finished)


def _run_scenario(
    database_url: str, workers: int
) -> tuple[dict[tuple[Any, ...], Item], list[tuple[Any, ...]]]:
    """The figures of every window, and every alert (subject, state, fired and resolved window)."""
    with scenario_client(database_url, workers) as (client, clock, crew):

        def run_jobs() -> None:
            threads = [threading.Thread(target=j.run_round) for j in crew]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            while crew[0].run_round().windows:  # whatever raced past a pass is picked up
                pass

        scenario.run(client, clock, run_jobs)
        figures = {
            (i["window_end"], i["family"], i["metric"], i["feature"], i["attribute"], i["group"]): i
            for i in items(client)
        }
        alerts = client.get("/v1/alerts", params={"limit": "1000"}).json()["items"]
        subjects = ("family", "metric", "feature", "attribute", "group", "state", "window_end")
        # Values to 9 digits: profiles merged in another order differ in the last bits.
        return figures, sorted((*(str(a[k]) for k in subjects), _digits(a["value"])) for a in alerts)


def _digits(value: float | None) -> str:
    return "null" if value is None else f"{value:.9g}"


@pytest.mark.postgres
def test_one_worker_and_three_workers_give_the_same_results(
    postgres_url: str, reset_postgres: Callable[[], None]
) -> None:
    one, one_alerts = _run_scenario(postgres_url, 1)
    reset_postgres()
    three, three_alerts = _run_scenario(postgres_url, 3)
    # Alerting applies windows in window order whichever worker evaluated them: same alerts.
    assert one_alerts == three_alerts and len(one_alerts) >= 2
    assert one.keys() == three.keys() and len(one) > 1000
    for key, item in one.items():
        other = three[key]
        assert other["status"] == item["status"], key
        assert other["n"] == item["n"], key
        if item["value"] is None:
            assert other["value"] is None
        else:
            assert other["value"] == pytest.approx(item["value"], rel=1e-9, abs=1e-12), key
