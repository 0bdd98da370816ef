"""``GET /v1/models/{name}/report`` after one day of a credit model's traffic (drift, a gap for
sex=F, a 0.5% age band) ran through the real API and jobs: every figure of the report is the one
``POST …/evaluate`` gives for the same period, small cells are suppressed with complements so
that no stated sum gives one away, and the incidents, alerts, breaches and configuration
history are the stored ones."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from service.app import create_app
from service.config import Settings
from service.runner import Pipeline
from tests.asgi_client import AppClient, app_client
from tests.reports.compliance_support import CONFIG, PERIOD, Table, Tables, load, printed_cell
from tests.windows import scenario

REPORT = "/v1/models/credit/report"
MIN_CELL = 10
HIDDEN = "suppressed"


@dataclass
class Loaded:
    client: AppClient
    html: str
    tables: Tables
    live: dict[tuple[str | None, ...], dict[str, Any]]


def _act(client: AppClient) -> None:
    """What people do after the day: change a rule, acknowledge an alert and an incident."""
    config = {**CONFIG, "alerting": {"drift": {"fire_after": 3}}}
    assert client.put("/v1/models/credit/monitor", json=config).status_code == 200
    alerts = client.get("/v1/alerts", params={"model": "credit"}).json()["items"]
    firing = next(a for a in alerts if a["state"] == "firing")
    body = {"by": "carol", "comment": "recall drop under review <b>"}
    assert client.post(f"/v1/alerts/{firing['id']}/acknowledge", json=body).status_code == 200
    incident = client.get("/v1/incidents").json()["items"][0]
    note = {"by": "dave", "note": "retraining requested; F scores audited"}
    assert client.post(f"/v1/incidents/{incident['id']}/acknowledge", json=note).status_code == 200


@pytest.fixture
def loaded(database_url: str) -> Iterator[Loaded]:
    settings = Settings(database_url=database_url, run_jobs=False, report_min_cell=MIN_CELL)
    clock = scenario.MutableClock(scenario.START)
    app = create_app(settings, clock=clock)
    try:
        with app_client(app) as client:
            load(client, clock, Pipeline(app.state.context.sessions, settings, clock))
            _act(client)
            params = {"from": PERIOD[0].isoformat(), "to": PERIOD[1].isoformat()}
            response = client.get(REPORT, params=params)
            assert response.status_code == 200, response.text
            assert response.headers["content-type"].startswith("text/html")
            window = {"window_start": params["from"], "window_end": params["to"], "version": "v1"}
            items = client.post("/v1/models/credit/evaluate", json=window).json()["items"]
            live: dict[tuple[str | None, ...], dict[str, Any]] = {
                (i["family"], i["feature"], i["attribute"], i["group"], i["metric"]): i for i in items
            }
            yield Loaded(client, response.text, Tables(response.text), live)
    finally:
        app.state.context.engine.dispose()


def _figure_row(item: dict[str, Any]) -> list[str]:
    value = "—" if item["value"] is None else f"{item['value']:.4f}"
    ci = "—" if item["ci_low"] is None else f"[{item['ci_low']:.4f}, {item['ci_high']:.4f}]"
    threshold = "—" if item["threshold"] is None else f"{item['threshold']:.4f}"
    return [item["metric"], value, ci, f"{item['n']:,}", threshold, item["status"]]


def _one(tables: Tables, css: str, attribute: str | None = None) -> Table:
    found = [t for t in tables.of(css) if t.attribute == attribute]
    assert len(found) == 1, (css, attribute)
    return found[0]


def check_performance_is_the_evaluate_apis(f: Loaded) -> None:
    for family, css in (("performance", "performance"), ("estimated_performance", "estimated")):
        expected = [_figure_row(i) for k, i in f.live.items() if k[0] == family and k[2] is None]
        assert expected and _one(f.tables, css).rows[1:] == expected


def check_fairness_cells_are_the_evaluate_apis_or_suppressed(f: Loaded) -> None:
    shown = 0
    for table in f.tables.of("fairness"):
        for group, n, rate, _impact, *others in table.rows[1:]:
            size = f.live[("fairness", None, table.attribute, group, "selection_rate")]["n"]
            if n == HIDDEN:
                assert rate == HIDDEN and set(others) == {HIDDEN}
                continue
            assert size >= MIN_CELL and n == f"{size:,}"
            for metric, text in zip(("selection_rate", "tpr", "fpr", "ppv"), [rate, *others], strict=True):
                item = f.live[("fairness", None, table.attribute, group, metric)]
                assert text == (HIDDEN if 0 < item["n"] < MIN_CELL else printed_cell(item)) or text == HIDDEN
                shown += text != HIDDEN
    assert shown >= 20
    sex = _one(f.tables, "disparities", "sex").rows[1:]
    assert sex == [_figure_row(i) for k, i in f.live.items() if k[2] == "sex" and k[3] is None]


def check_impact_ratios_divide_by_the_highest_rate(f: Loaded) -> None:
    rows = {r[0]: r for r in _one(f.tables, "fairness", "sex").rows[1:]}
    rate = {g: f.live[("fairness", None, "sex", g, "selection_rate")]["value"] for g in ("F", "M")}
    assert rows["M"][3].startswith("1.0000 —")
    assert rows["F"][3].startswith(f"{rate['F'] / rate['M']:.4f} [")
    dir_ = f.live[("fairness", None, "sex", None, "disparate_impact_ratio")]["value"]
    assert rows["F"][3].startswith(f"{dir_:.4f}")  # the engine's min/max is the smallest ratio


def _hidden_sizes(f: Loaded) -> dict[tuple[str, str], bool]:
    return {(t.attribute or "", r[0]): r[1] == HIDDEN for t in f.tables.of("fairness") for r in t.rows[1:]}


def check_no_stated_sum_gives_one_suppressed_size_away(f: Loaded) -> None:
    hidden = _hidden_sizes(f)
    assert hidden[("age_band", "65+")] and hidden[("sex×age_band", "F|65+")]  # 0.5% of 1,600 rows
    sums: list[list[tuple[str, str]]] = []  # members of each relation; the rows total is published
    for attribute in ("sex", "age_band", "sex×age_band"):
        sums.append([k for k in hidden if k[0] == attribute])
    for position, name in enumerate(("sex", "age_band")):
        for value in {k[1].split("|")[position] for k in hidden if k[0] == "sex×age_band"}:
            cells = [k for k in hidden if k[0] == "sex×age_band" and k[1].split("|")[position] == value]
            sums.append([*cells, (name, value)])
    for members in sums:
        assert sum(hidden[m] for m in members) != 1, members
    disparities = _one(f.tables, "disparities", "age_band").rows[1:]
    assert all(r[1] == HIDDEN for r in disparities if r[0] != "representation_shift")


def check_breaches_incidents_alerts_and_history_are_the_stored_ones(f: Loaded) -> None:
    params = {"from": PERIOD[0].isoformat(), "to": PERIOD[1].isoformat(), "limit": 50_000}
    stored = f.client.get("/v1/models/credit/evaluations", params=params).json()["items"]
    alerting = {
        (i["family"], i["metric"], i["feature"] or i["attribute"] or "—")
        for i in stored
        if i["status"] == "alert"
    }
    breaches = _one(f.tables, "breaches").rows[1:]
    assert {tuple(r[:3]) for r in breaches} == alerting and alerting
    # A window's disparity beside a published rate would give a suppressed group's rate away.
    withheld = [r for r in breaches if r[0] == "fairness" and r[2] == "sex×age_band"]
    assert withheld and all(r[5] == HIDDEN for r in withheld)
    assert all(r[5] != HIDDEN for r in breaches if r[2] == "sex")
    alerts = f.client.get("/v1/alerts", params={"model": "credit"}).json()["items"]
    assert [int(r[0]) for r in _one(f.tables, "alerts").rows[1:]] == sorted(a["id"] for a in alerts)
    assert "recall drop under review &lt;b&gt;" in f.html  # a client's text, escaped
    incidents = f.client.get("/v1/incidents").json()["items"]
    assert [int(r[0]) for r in _one(f.tables, "incidents").rows[1:]] == sorted(i["id"] for i in incidents)
    assert "retraining requested; F scores audited" in f.html
    history = _one(f.tables, "history").rows[1:]
    actions = ["model.registered", "monitor.changed", "reference.uploaded", "monitor.changed"]
    assert [r[3] for r in history] == actions
    assert "fairness.min_group_size: — → 30" in history[1][5] and "bucket: — → 1h" in history[1][5]
    assert history[3][5] == "alerting.drift.fire_after: 2 → 3"


def test_the_report_is_the_evaluate_apis_figures_with_small_cells_suppressed(loaded: Loaded) -> None:
    check_performance_is_the_evaluate_apis(loaded)
    check_fairness_cells_are_the_evaluate_apis_or_suppressed(loaded)
    check_impact_ratios_divide_by_the_highest_rate(loaded)
    check_no_stated_sum_gives_one_suppressed_size_away(loaded)
    check_breaches_incidents_alerts_and_history_are_the_stored_ones(loaded)
    for text in ("90 days", "Article 72", "25 months", "MODELMON_REPORT_MIN_CELL", "not legal advice"):
        assert text in loaded.html


def test_a_list_is_said_to_be_cut_only_when_items_were_left_out(
    loaded: Loaded, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A period with exactly as many alerts (incidents) as the report lists shows them all and
    says nothing; one place fewer keeps the newest and says how many are shown."""
    from service.reports import compliance

    params = {"from": PERIOD[0].isoformat(), "to": PERIOD[1].isoformat()}
    for css, limit, noun in (("alerts", "MAX_ALERTS", "alerts"), ("incidents", "MAX_INCIDENTS", "incidents")):
        ids = [int(r[0]) for r in _one(loaded.tables, css).rows[1:]]
        assert ids, f"the scenario has {noun}"
        monkeypatch.setattr(compliance, limit, len(ids))
        html = loaded.client.get(REPORT, params=params).text
        assert [int(r[0]) for r in _one(Tables(html), css).rows[1:]] == ids
        assert f"newest {noun} of the period are listed" not in html
        if css == "incidents" and len(ids) == 1:  # the scenario's one incident: no shorter list
            continue
        monkeypatch.setattr(compliance, limit, len(ids) - 1)
        html = loaded.client.get(REPORT, params=params).text
        assert [int(r[0]) for r in _one(Tables(html), css).rows[1:]] == ids[1:]  # the newest
        assert f"Only the {len(ids) - 1} newest {noun} of the period are listed" in html
        monkeypatch.undo()
