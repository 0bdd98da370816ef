"""``GET /v1/models/{name}/slices`` through the API: a planted failing pair found from the stored
bucket profiles (labels arriving after the rows were folded), a quiet model with none, the
metric checked against the task, and a key without read refused (read keys reach every
model; ingest keys, scoped to models, do not read)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np

from tests.aggregation.test_cursors import DAY, World, _world
from tests.auth.test_keys import bearer, make_key
from tests.windows import scenario


def _labels(records: list[dict[str, Any]], seed: int, planted: bool) -> list[tuple[str, int]]:
    """Wrong 10% of the time; 50% for purpose "home" with housing "rent" when ``planted``."""
    rng = np.random.default_rng(seed)
    out = []
    for record in records:
        bad = planted and record["features"]["purpose"] == "home" and record["features"]["housing"] == "rent"
        wrong = rng.random() < (0.5 if bad else 0.1)
        out.append((str(record["id"]), int(record["prediction"]) ^ int(wrong)))
    return out


def _slices(world: World, model: str, **params: str) -> dict[str, Any]:
    query = {"from": DAY.isoformat(), "to": (DAY + timedelta(days=1)).isoformat(), **params}
    response = world.client.get(f"/v1/models/{model}/slices", params=query)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_planted_failing_pair_is_ranked_first_and_a_quiet_model_has_none(database_url: str) -> None:
    with _world(database_url, pass_rows=10_000) as world:
        sent = {}
        for model in ("alpha", "beta"):
            rng = np.random.default_rng(3)
            sent[model] = scenario._rows(rng, 800, DAY, timedelta(hours=20), day=1, prefix=model).records
            world.send(model, sent[model])
        world.worker().catch_up()  # folded before any label: the labels come as late deltas
        for model, planted in (("alpha", True), ("beta", False)):
            world.label(model, _labels(sent[model], 4, planted))
        world.worker().catch_up()
        found, quiet = _slices(world, "alpha"), _slices(world, "beta", metric="fpr")
        wrong_metric = world.client.get(
            "/v1/models/alpha/slices",
            params={"from": DAY.isoformat(), "to": DAY.isoformat(), "metric": "mae"},
        )
        ingest_only = make_key(world.client, "ingest", models=["alpha"])
        refused = world.client.get(
            "/v1/models/alpha/slices",
            params={"from": DAY.isoformat(), "to": DAY.isoformat()},
            headers=bearer(ingest_only),
        )
    assert found["status"] == "ok" and found["metric"] == "error_rate" and found["n"] == 800
    assert found["tested"] > 50 and found["slices"], found
    top = found["slices"][0]
    cells = {(c["column"], c["value"]) for c in top["slice"]}
    assert cells == {("purpose", "home"), ("housing", "rent")} or cells == {("purpose", "home")}, top
    assert top["ci_low"] <= top["value"] <= top["ci_high"] and top["q_value"] < 0.05 and top["gap"] > 0.2
    assert [s["gap_low"] for s in found["slices"]] == sorted(
        (s["gap_low"] for s in found["slices"]), reverse=True
    )
    assert quiet["status"] == "ok" and quiet["metric"] == "fpr" and quiet["slices"] == []
    assert wrong_metric.status_code == 422
    assert refused.status_code == 403


def test_rows_and_labels_not_folded_yet_are_folded_before_the_search(database_url: str) -> None:
    """No worker has run: the request folds the model's pending events itself and finds what a
    worker's fold would have let it find."""
    with _world(database_url, pass_rows=10_000) as world:
        rng = np.random.default_rng(3)
        sent = scenario._rows(rng, 800, DAY, timedelta(hours=20), day=1, prefix="alpha").records
        world.send("alpha", sent)
        world.label("alpha", _labels(sent, 4, True))
        found = _slices(world, "alpha")
        again = _slices(world, "alpha")  # nothing left to fold: the same answer
    assert found["status"] == "ok" and found["n"] == 800 and found["slices"], found
    cells = {(c["column"], c["value"]) for c in found["slices"][0]["slice"]}
    assert cells == {("purpose", "home"), ("housing", "rent")} or cells == {("purpose", "home")}
    assert again == found
