"""A performance incident names its top failing slices (from the stored bucket profiles of its
span), in its summary, its title and the incident webhook; a drift incident has none."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from sqlalchemy import delete

from service.alerting.incident_slices import _metric, cell_text
from service.config import Settings
from service.runner import Pipeline
from service.storage.alerting_tables import Alert
from service.storage.database import unit_of_work
from service.storage.engine_tables import WindowTask
from tests.alerting.support import T0, Harness, drift
from tests.alerting.test_incidents import by_cause, performance
from tests.windows import scenario
from tests.windows.test_slices_api import _labels


def plant_failing_slice(h: Harness, settings: Settings) -> None:
    """800 predictions over the 20 h before T0, wrong 10% of the time but 50% for purpose
    "home" with housing "rent", labelled, folded into bucket profiles (no window evaluated)."""
    assert (
        h.client.post("/v1/models/credit/reference", json={"rows": scenario.reference()}).status_code == 200
    )
    records = scenario._rows(
        np.random.default_rng(5), 800, T0 - timedelta(hours=20), timedelta(hours=18), day=1, prefix="s"
    ).records
    assert h.client.post("/v1/models/credit/predictions", json={"predictions": records}).status_code == 200
    at = (T0 - timedelta(hours=1)).isoformat()
    outcomes = [{"prediction_id": i, "label": y, "timestamp": at} for i, y in _labels(records, 6, True)]
    assert h.client.post("/v1/models/credit/outcomes", json={"outcomes": outcomes}).status_code == 200
    worker = Pipeline(h.sessions, settings.model_copy(update={"aggregation_pass_rows": 10_000}), h.clock)
    while not worker.aggregate_once()[0]:
        pass
    with unit_of_work(h.sessions) as session:  # the test writes the windows' figures itself
        session.execute(delete(WindowTask))


def test_a_performance_incident_names_the_failing_slice(h: Harness, settings: Settings) -> None:
    plant_failing_slice(h, settings)
    for hour in (1, 2):
        h.store(hour, [performance("accuracy", 0.6), drift(0.3)])
        h.run_pass(hour + 0.1)
    found = by_cause(h)
    drop = found["performance"]
    assert found["input:income"]["slices"] == []
    assert drop["slices"], drop
    top = drop["slices"][0]
    assert {c["column"]: c["value"] for c in top["slice"]}.get("purpose") == "home"
    assert top["metric"] == "error_rate" and top["value"] > top["rest_value"] + 0.2 and top["q_value"] < 0.05
    assert "; worst slice: " in drop["title"] and "purpose = home" in drop["title"]
    opened = [p for kind, p in h.messages() if kind == "incident.opened"]
    sent = next(p["data"]["incident"] for p in opened if p["data"]["incident"]["cause"] == "performance")
    assert sent["slices"] == drop["slices"]


def test_cells_read_as_conditions() -> None:
    assert cell_text("categorical", "purpose", "home") == "purpose = home"
    assert cell_text("numeric", "income", "< 31.2") == "income < 31.2"
    assert cell_text("numeric", "income", "[31.2, 40.5)") == "income in [31.2, 40.5)"
    assert cell_text("numeric", "income", "(missing)") == "income = (missing)"


def test_the_slice_metric_follows_the_alerts_only_when_they_all_agree() -> None:
    def pick(*metrics: str) -> str:
        return _metric("binary_classification", [Alert(metric=m) for m in metrics])

    assert pick("recall") == "tpr" and pick("fpr", "false_positive_rate") == "fpr"
    assert pick("recall", "accuracy") == "error_rate" and pick("recall", "fpr") == "error_rate"
    assert _metric("regression", [Alert(metric="rmse")]) == "mae"
