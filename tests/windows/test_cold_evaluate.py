"""``POST …/evaluate`` on a window whose events are not folded yet: its figures come from the
raw rows (nothing folded, nothing stored) and equal, to 1e-9, those of the same window after a
worker's pass folded them — with the uploaded reference and with a trailing one (the previous
day, itself unfolded)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from service.aggregation.cold import layout_is_current
from service.registry.service import load_model
from service.stats.layout import Layout
from service.storage.database import unit_of_work
from service.windows.service import target_of
from tests.aggregation.test_cursors import DAY, World, _world
from tests.profiles import world as profiles_world
from tests.windows import scenario

Key = tuple[Any, ...]


def _records(n: int, day: int, prefix: str) -> list[dict[str, Any]]:
    """``n`` predictions over 20 h of day ``day`` (0: the day before the evaluated window)."""
    start = DAY + timedelta(days=day - 1)
    return scenario._rows(
        np.random.default_rng(n + day), n, start, timedelta(hours=20), day=day, prefix=prefix
    ).records


def _figures(body: dict[str, Any]) -> dict[Key, tuple[Any, ...]]:
    keys = ("family", "metric", "feature", "attribute", "group")
    return {tuple(i[k] for k in keys): (i["value"], i["n"], i["status"]) for i in body["items"]}


def _evaluate(world: World) -> dict[str, Any]:
    response = world.client.post("/v1/models/alpha/evaluate", json={})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _assert_close(cold: dict[Key, tuple[Any, ...]], warm: dict[Key, tuple[Any, ...]]) -> None:
    assert cold.keys() == warm.keys() and len(cold) > 20
    for key, (value, n, status) in cold.items():
        other, other_n, other_status = warm[key]
        assert (n, status) == (other_n, other_status), key
        assert (value is None) == (other is None), key
        if value is not None:
            assert value == pytest.approx(other, rel=1e-9, abs=1e-12), key


@pytest.mark.parametrize("reference", ["uploaded", "trailing"])
def test_a_cold_window_is_evaluated_from_its_rows_as_folded(database_url: str, reference: str) -> None:
    with _world(database_url) as world:
        monitor = world.client.put("/v1/models/alpha/monitor", json={"reference": {"kind": reference}})
        assert monitor.status_code == 200, monitor.text
        first = _records(300, 1, "a")
        world.send("alpha", _records(400, 0, "y") + first)
        world.label("alpha", [(str(r["id"]), i % 2) for i, r in enumerate(first[:100])])
        world.worker().catch_up()  # fits the bins; every event so far folded
        folded = world.profiles("alpha")
        later, earlier = _records(250, 1, "b"), _records(150, 0, "z")
        world.send("alpha", later + earlier)
        world.label("alpha", [(str(r["id"]), 1) for r in first[100:200] + later[:50] + earlier[:50]])

        cold = _evaluate(world)
        assert world.profiles("alpha") == folded  # nothing folded nor stored by the request
        world.worker().catch_up()
        warm = _evaluate(world)
    assert cold["rows"] == warm["rows"] == 550 and cold["window_start"] == DAY.isoformat().replace(
        "+00:00", "Z"
    )
    assert cold["label_coverage"] == pytest.approx(warm["label_coverage"], rel=1e-12)
    _assert_close(_figures(cold), _figures(warm))


def test_a_layout_due_for_a_refit_is_not_current(database_url: str) -> None:
    """Bins fitted on a range of traffic are refitted at the next pass: a cold read would use
    the old ones, so the request folds first (and evaluates on the new bins)."""
    with _world(database_url) as world:
        world.send("alpha", _records(200, 1, "a"))
        world.worker().catch_up()
        with unit_of_work(world.sessions) as session:
            model = load_model(session, "alpha")
            target = target_of(session, model.model_id, model.latest.version_id)
            assert target is not None
            current = (model.model_id, model.latest.version_id, target.row.inputs_hash, world.clock())
            assert layout_is_current(session, *current)
        span = {"kind": "range", "start": DAY.isoformat(), "end": (DAY + timedelta(hours=20)).isoformat()}
        monitor = world.client.put("/v1/models/alpha/monitor", json={"reference": span})
        assert monitor.status_code == 200, monitor.text
        with unit_of_work(world.sessions) as session:
            assert not layout_is_current(session, *current)


def test_a_window_with_uploaded_profiles_is_folded_first(database_url: str) -> None:
    """Uploaded bucket profiles have no raw rows: a window holding some is evaluated after a
    fold (its raw rows alone would miss the uploaded 300)."""
    start = profiles_world.DAY + timedelta(hours=6)
    ingested, uploaded = (
        profiles_world.rows(300, start, 6, seed=5),
        profiles_world.rows(300, start, 6, seed=6),
    )
    window = {"window_start": start.isoformat(), "window_end": (start + timedelta(hours=6)).isoformat()}
    with profiles_world.world(database_url, "upload") as opened:
        layout = Layout.from_dict(opened.layout("upload")["layout"])
        labels = dict(zip(uploaded.ids, uploaded.labels, strict=True))
        bodies = profiles_world.bucket_bodies(layout, uploaded.records, labels)
        assert opened.upload("upload", bodies).status_code == 200
        sent = opened.client.post("/v1/models/upload/predictions", json={"predictions": ingested.records})
        assert sent.status_code == 200, sent.text  # not folded yet
        now = opened.client.post("/v1/models/upload/evaluate", json=window)
        opened.jobs.catch_up()
        later = opened.client.post("/v1/models/upload/evaluate", json=window)
    assert now.status_code == later.status_code == 200, now.text
    assert now.json()["rows"] == later.json()["rows"] == 600
    _assert_close(_figures(now.json()), _figures(later.json()))
