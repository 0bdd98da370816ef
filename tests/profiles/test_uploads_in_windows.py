"""Uploaded profiles in the engine: a window over uploaded profiles equals the window over the
same rows ingested as JSON, and a rebuild of a model's profiles from its raw events (a held
model's retry) merges its uploads again."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from service.aggregation.cursors import aggregate_pass
from service.aggregation.queries import committed_high_water
from service.registry.service import load_model
from service.stats.layout import Layout
from service.stats.serialize import profile_from_bytes, profile_to_dict
from service.storage.database import unit_of_work
from service.storage.engine_tables import BucketProfile
from tests.profiles.world import DAY, World, bucket_bodies, rows, world


@pytest.fixture
def two(database_url: str) -> Iterator[World]:
    with world(database_url, "api", "upload") as opened:
        yield opened


def _evaluate(w: World, name: str, start: Any) -> dict[tuple[Any, ...], dict[str, Any]]:
    window = {"window_start": start.isoformat(), "window_end": (start + timedelta(hours=6)).isoformat()}
    response = w.client.post(f"/v1/models/{name}/evaluate", json=window)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    return {
        (f["family"], f["metric"], f.get("feature"), f.get("attribute"), f.get("group")): f for f in items
    }


def _stored(w: World) -> dict[tuple[int, int, Any], dict[str, Any]]:
    """Every stored bucket, hour and day profile, as dicts."""
    with unit_of_work(w.jobs.sessions) as session:
        return {
            (row.layout_id, row.level, row.start): _keyed(profile_to_dict(profile_from_bytes(row.body)))
            for row in session.execute(select(BucketProfile)).scalars()
        }


def _keyed(profile: dict[str, Any]) -> dict[str, Any]:
    """The outcome groups by their key (their list order is the order merges met them)."""
    return profile | {"outcomes": {str(o["group"]): o for o in profile["outcomes"]}}


def test_a_window_of_uploaded_profiles_equals_the_window_of_the_ingested_rows(two: World) -> None:
    start = DAY + timedelta(hours=6)
    sample = rows(600, start, 6)
    labels = dict(zip(sample.ids, sample.labels, strict=True))
    assert (
        two.client.post("/v1/models/api/predictions", json={"predictions": sample.records}).status_code == 200
    )
    outcomes = [
        {"prediction_id": i, "label": y, "timestamp": two.clock.at.isoformat()} for i, y in labels.items()
    ]
    assert two.client.post("/v1/models/api/outcomes", json={"outcomes": outcomes}).status_code == 200
    layout = Layout.from_dict(two.layout("upload")["layout"])
    assert two.upload("upload", bucket_bodies(layout, sample.records, labels)).status_code == 200
    two.jobs.catch_up()
    api, upload = _evaluate(two, "api", start), _evaluate(two, "upload", start)
    assert len(api) > 50 and api.keys() == upload.keys()
    for key, figure in api.items():
        for field in ("value", "ci_low", "ci_high", "n", "status"):
            a, b = figure[field], upload[key][field]
            assert a == b or (isinstance(a, float) and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)), key


def test_a_rebuild_from_the_raw_events_merges_the_uploads_again(two: World) -> None:
    start = DAY + timedelta(hours=6)
    ingested, uploaded = rows(300, start, 6, seed=5), rows(300, start, 6, seed=6)
    assert (
        two.client.post("/v1/models/upload/predictions", json={"predictions": ingested.records}).status_code
        == 200
    )
    layout = Layout.from_dict(two.layout("upload")["layout"])
    labels = dict(zip(uploaded.ids, uploaded.labels, strict=True))
    assert two.upload("upload", bucket_bodies(layout, uploaded.records, labels)).status_code == 200
    two.jobs.catch_up()
    before = _stored(two)
    with unit_of_work(two.jobs.sessions) as session:
        model_id = load_model(session, "upload").model_id
        high_water = committed_high_water(session)
        result = aggregate_pass(
            session, now=two.clock.at, high_water=high_water, held={model_id}, retry={model_id}
        )
    assert result.recovered == {model_id}
    after = _stored(two)
    assert before.keys() == after.keys()
    for key, profile in before.items():
        assert profile["rows"] == after[key]["rows"], key
        assert _close_tree(profile, after[key]), key


def _close_tree(a: Any, b: Any) -> bool:
    """Equal structures; floats to 1e-9 (a rebuild adds the same numbers in another order)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close_tree(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_close_tree(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)
