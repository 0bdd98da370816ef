"""Fairness for regression and multiclass models through the real API, aggregation and evaluation
(SQLite and Postgres): register, upload a reference, send one day of predictions and outcomes,
run the jobs, read the figures from ``/v1/models/{name}/evaluations`` and compare them with
fairlearn's ``MetricFrame`` on the rows sent.

- Regression (a credit limit): women's limits are over-predicted by 3 (errors N(3, 2²) against
  N(0, 2²)), so the mean-error (bias) difference is 3 and alerts past a bound of 1.
- Multiclass (approve / refer / decline): half of the women the model would approve (about 45 %)
  are declined instead, so the "decline" and "approve" classes' parity differences (about 0.22)
  alert at the default bound of 0.1 and "refer", untouched, stays ok.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from fairlearn.metrics import MetricFrame, selection_rate
from sklearn.metrics import mean_absolute_error

from service.app import create_app
from service.config import Settings
from service.runner import Pipeline
from tests.asgi_client import app_client
from tests.reports.compliance_support import Tables, printed_cell
from tests.windows import scenario

ROWS = 800
CLASSES = ["approve", "refer", "decline"]
DAY = {"from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z", "format": "html"}


def _registration(task: str) -> dict[str, Any]:
    extra = {"classes": CLASSES} if task == "multiclass_classification" else {}
    return {
        "name": "m",
        "version": "v1",
        "task": task,
        "features": [{"name": "income", "type": "numeric"}],
        "protected_attributes": ["sex"],
        **extra,
    }


def _day(task: str, rng: np.random.Generator, *, unfair: bool) -> tuple[list[Any], list[Any], np.ndarray]:
    """(label, prediction, sex) per row; unfair: women's errors or decline rate moved (module doc)."""
    sex = np.where(rng.random(ROWS) < 0.5, "F", "M")
    women = unfair & (sex == "F")
    if task == "regression":
        label = rng.normal(100.0, 20.0, ROWS)
        prediction = label + rng.normal(np.where(women, 3.0, 0.0), 2.0)
        return [float(v) for v in label], [float(v) for v in prediction], sex
    actual = rng.choice(3, ROWS, p=[0.5, 0.3, 0.2])
    predicted = np.where(rng.random(ROWS) < 0.7, actual, rng.integers(0, 3, ROWS))
    predicted[women & (predicted == 0) & (rng.random(ROWS) < 0.5)] = 2  # approve → decline
    return [CLASSES[i] for i in actual], [CLASSES[i] for i in predicted], sex


def _evaluate(
    database_url: str, task: str, monitor: dict[str, Any]
) -> tuple[list[dict[str, Any]], Any, dict[str, str]]:
    """Run the day through the engine: the fairness figures of the day's window, the rows, and
    the text of /metrics, the model's /ui page, its compliance report of the day and its card."""
    settings = Settings(database_url=database_url, run_jobs=False)
    clock = scenario.MutableClock(scenario.START)
    app = create_app(settings, clock=clock)
    jobs = Pipeline(app.state.context.sessions, settings, clock)
    rng = np.random.default_rng(17)
    income = rng.normal(50.0, 10.0, ROWS)
    try:
        with app_client(app) as client:
            assert client.post("/v1/models", json=_registration(task)).status_code == 201
            config = {**scenario.CONFIG, "step": "1d", "fairness": monitor}
            assert client.put("/v1/models/m/monitor", json=config).status_code == 200
            y, p, sex = _day(task, rng, unfair=False)
            reference = [
                {"features": {"income": float(income[i])}, "prediction": p[i], "label": y[i]}
                | {"attributes": {"sex": str(sex[i])}}
                for i in range(ROWS)
            ]
            response = client.post("/v1/models/m/reference", json={"rows": reference})
            assert response.status_code in (200, 201), response.text
            y, p, sex = _day(task, rng, unfair=True)
            times = [scenario.START + timedelta(seconds=i * 86_400 // ROWS) for i in range(ROWS)]
            predictions = [
                {"id": f"p{i}", "timestamp": times[i].isoformat(), "prediction": p[i]}
                | {"features": {"income": float(income[i])}, "attributes": {"sex": str(sex[i])}}
                for i in range(ROWS)
            ]
            key = "value" if task == "regression" else "label"
            outcomes = [
                {"prediction_id": f"p{i}", key: y[i], "timestamp": times[i].isoformat()} for i in range(ROWS)
            ]
            clock.at = scenario.START + timedelta(days=1, hours=1)
            assert client.post("/v1/models/m/predictions", json={"predictions": predictions}).is_success
            assert client.post("/v1/models/m/outcomes", json={"outcomes": outcomes}).is_success
            jobs.run_round()
            items = client.get(
                "/v1/models/m/evaluations", params={"family": "fairness", "limit": 1000}
            ).json()
            report = client.get("/v1/models/m/report", params=DAY)
            assert report.status_code == 200, report.text
            pages = {"metrics": client.get("/metrics").text, "ui": client.get("/ui/models/m").text}
            pages["report"] = report.text
            pages["card"] = client.get("/v1/models/m/card", params={"format": "markdown"}).text
    finally:
        app.state.context.engine.dispose()
    day = [i for i in items["items"] if i["window_end"].startswith("2026-11-02")]
    return day, (np.asarray(y), np.asarray(p), sex), pages


def _report_with(database_url: str, min_cell: int) -> str:
    """The day's compliance report from a server whose small-cell minimum is ``min_cell``."""
    settings = Settings(database_url=database_url, run_jobs=False, report_min_cell=min_cell)
    app = create_app(settings, clock=lambda: scenario.START + timedelta(days=1, hours=1))
    try:
        with app_client(app) as client:
            response = client.get("/v1/models/m/report", params=DAY)
    finally:
        app.state.context.engine.dispose()
    assert response.status_code == 200, response.text
    return response.text


def _group_rows(report: str) -> list[list[str]]:
    (table,) = [t for t in Tables(report).of("fairness") if t.attribute == "sex"]
    return table.rows


def _gauge(metrics: str, name: str, metric: str) -> float:
    (line,) = [x for x in metrics.splitlines() if x.startswith(name + "{") and f'metric="{metric}"' in x]
    return float(line.rsplit(" ", 1)[1])


def _one(items: list[dict[str, Any]], **where: Any) -> dict[str, Any]:
    (item,) = [i for i in items if all(i.get(k) == v for k, v in where.items())]
    return item


@pytest.mark.slow
def test_a_regression_models_bias_gap_alerts_and_equals_fairlearn(database_url: str) -> None:
    items, (y, p, sex), pages = _evaluate(database_url, "regression", {"max_mean_error_difference": 1.0})
    frame = MetricFrame(
        metrics={"mean_error": lambda t, q: float(np.mean(q - t)), "mae": mean_absolute_error},
        y_true=y.astype(float),
        y_pred=p.astype(float),
        sensitive_features=sex,
    )
    for g in ("F", "M"):
        for rate in ("mean_error", "mae"):
            got = _one(items, metric=rate, attribute="sex", group=g)
            assert got["value"] == pytest.approx(frame.by_group[rate][g], rel=1e-9)
    bias = _one(items, metric="mean_error_difference", attribute="sex")
    assert bias["value"] == pytest.approx(frame.difference()["mean_error"], rel=1e-9)
    assert (bias["status"], bias["threshold"], bias["n"]) == ("alert", 1.0, ROWS)
    mae = _one(items, metric="mae_difference", attribute="sex")
    assert mae["value"] == pytest.approx(frame.difference()["mae"], rel=1e-9)
    assert (mae["status"], mae["threshold"]) == ("ok", None)  # no bound set: reported only
    assert _gauge(pages["metrics"], "modelmon_fairness_breached", "mean_error_difference") == 1.0
    assert _gauge(pages["metrics"], "modelmon_fairness_value", "mae_difference") == pytest.approx(
        mae["value"]
    )
    assert 'data-chart="fairness-sex-mean_error_difference"' in pages["ui"]
    assert "<td>mean_error_difference</td>" in pages["report"]
    # The report's group table: each group's labelled n, mean error and MAE as /evaluations has them.
    header, *rows = _group_rows(pages["report"])
    assert header == ["group", "n (labelled)", "mean error (prediction − outcome)", "MAE"]
    expected = [
        [g, f"{_one(items, metric='mae', group=g)['n']:,}"]
        + [printed_cell(_one(items, metric=rate, attribute="sex", group=g)) for rate in ("mean_error", "mae")]
        for g in ("F", "M")
    ]
    assert rows == expected
    # A minimum cell above the smaller group hides it, then the other (their sum is the published
    # overall n), and the differences that compared them.
    smaller = min(int(np.sum(sex == g)) for g in ("F", "M"))
    hidden = _report_with(database_url, smaller + 1)
    assert [row[1:] for row in _group_rows(hidden)[1:]] == [["suppressed"] * 3] * 2
    (disparities,) = [t for t in Tables(hidden).of("disparities") if t.attribute == "sex"]
    gaps = [r for r in disparities.rows[1:] if r[0] in ("mean_error_difference", "mae_difference")]
    # value, interval, n and status withheld; the threshold is configuration, not data
    assert len(gaps) == 2 and all(set(r[1:4] + r[5:]) == {"suppressed"} for r in gaps)


@pytest.mark.slow
def test_a_multiclass_models_decline_gap_alerts_per_class_and_equals_fairlearn(database_url: str) -> None:
    items, (y, p, sex), pages = _evaluate(database_url, "multiclass_classification", {})
    for name in CLASSES:
        frame = MetricFrame(
            metrics=selection_rate, y_true=y == name, y_pred=p == name, sensitive_features=sex
        )
        for g in ("F", "M"):
            got = _one(items, metric="selection_rate", feature=name, attribute="sex", group=g)
            assert got["value"] == pytest.approx(frame.by_group[g], abs=1e-12)
        parity = _one(items, metric="statistical_parity_difference", feature=name, attribute="sex")
        assert parity["value"] == pytest.approx(frame.difference(), abs=1e-12)
    for name, status in (("approve", "alert"), ("decline", "alert"), ("refer", "ok")):
        parity = _one(items, metric="statistical_parity_difference", feature=name, attribute="sex")
        assert (parity["status"], parity["threshold"]) == (status, 0.1), name
    # /metrics shows each disparity's worst class: a breach in any class is a breach; /ui and the
    # compliance report show every class
    assert _gauge(pages["metrics"], "modelmon_fairness_breached", "statistical_parity_difference") == 1.0
    # The report: one group table per class (sorted), each cell as /evaluations has it.
    tables = [t.rows for t in Tables(pages["report"]).of("fairness") if t.attribute == "sex"]
    assert len(tables) == len(CLASSES)
    for name, (header, *rows) in zip(sorted(CLASSES), tables, strict=True):
        assert header == ["group", "n", "selection rate", "TPR", "FPR", "PPV"]
        for g, row in zip(("F", "M"), rows, strict=True):
            cells = [
                _one(items, metric=m, feature=name, group=g) for m in ("selection_rate", "tpr", "fpr", "ppv")
            ]
            assert row == [g, f"{cells[0]['n']:,}", *map(printed_cell, cells)], (name, g)
    # A minimum above some per-class cells (a class's labelled or predicted rows in a group)
    # but below both groups' sizes hides exactly those cells, and the disparities they fed.
    sizes = {g: int(np.sum(sex == g)) for g in ("F", "M")}
    counts = sorted(i["n"] for i in items if i["group"] is not None and i["metric"] != "selection_rate")
    minimum = counts[len(counts) // 4]
    assert 0 < minimum <= min(sizes.values())
    assert any(0 < n < minimum for n in counts)
    hidden = Tables(_report_with(database_url, minimum))
    for name, (_, *rows) in zip(sorted(CLASSES), [t.rows for t in hidden.of("fairness")], strict=True):
        for g, row in zip(("F", "M"), rows, strict=True):
            assert row[1] == f"{sizes[g]:,}"
            for m, text in zip(("selection_rate", "tpr", "fpr", "ppv"), row[2:], strict=True):
                cell = _one(items, metric=m, feature=name, group=g)
                assert (text == "suppressed") == (0 < cell["n"] < minimum), (name, g, m)
    (disparities,) = [t for t in hidden.of("disparities") if t.attribute == "sex"]
    assert all(r[1] == "suppressed" for r in disparities.rows[1:] if r[0] != "representation_shift")
    for name in CLASSES:
        assert f'data-chart="fairness-sex-{name}-disparate_impact_ratio"' in pages["ui"]
        assert f"statistical_parity_difference <small>class {name}</small>" in pages["report"]
        assert f"| fairness | statistical\\_parity\\_difference | sex · class {name} |" in pages["card"]
