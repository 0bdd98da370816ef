"""The columnar event read (COPY + pyarrow on Postgres, decoded rows on SQLite) against the
row path it replaced (``version_events`` + ``to_batch``): the same batches, the same profiles,
and bucket profiles folded through passes equal to those built from the rows in one go."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from service.aggregation import frames, repository
from service.aggregation.layouts import layout_of
from service.app import create_app
from service.config import Settings
from service.kernel import grid
from service.registry.service import load_model
from service.runner import Pipeline
from service.stats.labels import label_delta
from service.stats.layout import Batch
from service.stats.profile import build_profile
from service.stats.serialize import profile_from_bytes, profile_to_dict
from service.storage.database import unit_of_work
from service.storage.engine_tables import BucketProfile
from tests.asgi_client import AppClient, app_client
from tests.windows import scenario

DAY = scenario.START.replace(hour=0)
ALL = 10**12  # an id past every stored one
# Categorical values CSV must keep apart: empty, quoted, comma, newline, non-ASCII, unseen.
AWKWARD = ["", 'say "hi"', "a,b", "two\nlines", "Café ☕", "NULL", "\\N", "zeppelin"]


def _price_registration() -> dict[str, Any]:
    return {
        "name": "price",
        "version": "v1",
        "task": "regression",
        "features": [
            {"name": "income", "type": "numeric"},
            {"name": "area", "type": "numeric"},
            {"name": "purpose", "type": "categorical"},
        ],
        "protected_attributes": ["region"],
    }


def _price_record(rng: np.random.Generator, i: int, prefix: str) -> dict[str, Any]:
    features: dict[str, Any] = {
        "income": float(np.round(rng.normal(50.0, 10.0), 3)),
        "area": None if i % 7 == 0 else float(rng.lognormal(4.0, 0.5)),
        "purpose": AWKWARD[i % len(AWKWARD)] if i % 3 == 0 else ["car", "home"][i % 2],
    }
    if i % 11 == 0:
        features["income"] = None
    record: dict[str, Any] = {
        "id": f"{prefix}-{i}",
        "timestamp": (DAY + timedelta(minutes=4 * i)).isoformat(),  # 300 rows in 20 h
        "features": features,
        "prediction": float(rng.normal(100.0, 20.0)),
        "attributes": {"region": ["north", "south", "Zürich"][i % 3]} if i % 5 else {},
    }
    if i % 4 == 0:
        record["attributions"] = {"income": float(rng.normal()), "area": 1e-300 * i}
    return record


def _credit_records(n: int, prefix: str) -> list[dict[str, Any]]:
    rng = np.random.default_rng(n)
    records = scenario._rows(rng, n, DAY, timedelta(hours=20), day=1, prefix=prefix).records
    for i, record in enumerate(records):
        if i % 6 == 0:
            record["features"]["purpose"] = AWKWARD[i // 6 % len(AWKWARD)]
        if i % 9 == 0:
            record["features"]["income"] = None
        if i % 13 == 0:
            del record["attributes"]["sex"]
        if i % 8 == 0:
            record["attributions"] = {"income": float(rng.normal()), "purpose": -0.5}
    return records


class World:
    def __init__(self, client: AppClient, jobs: Pipeline) -> None:
        self.client, self.jobs = client, jobs

    def post(self, path: str, body: dict[str, Any]) -> None:
        response = self.client.post(path, json=body)
        assert response.status_code == 200, response.text

    def label(self, model: str, pairs: list[tuple[str, Any]]) -> None:
        at = (DAY + timedelta(days=1)).isoformat()
        key = "value" if model == "price" else "label"
        outcomes = [{"prediction_id": i, key: y, "timestamp": at} for i, y in pairs]
        self.post(f"/v1/models/{model}/outcomes", {"outcomes": outcomes})


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    settings = Settings(database_url=database_url, run_jobs=False, aggregation_pass_rows=150)
    app = create_app(settings, clock=scenario.MutableClock(DAY + timedelta(days=1)))
    rng = np.random.default_rng(3)
    with app_client(app) as client:
        world = World(client, Pipeline(app.state.context.sessions, settings, app.state.context.clock))
        assert client.post("/v1/models", json=scenario.registration()).status_code == 201
        assert client.post("/v1/models", json=_price_registration()).status_code == 201
        world.post("/v1/models/credit/reference", {"rows": scenario.reference()})
        reference = [
            {k: r[k] for k in ("features", "prediction", "attributes")} | {"label": r["prediction"] + 1.0}
            for r in (_price_record(rng, i, "r") for i in range(400))
        ]
        world.post("/v1/models/price/reference", {"rows": reference})
        yield world
    app.state.context.engine.dispose()


def _fill(world: World) -> None:
    """Events with labels before, with and after their predictions, folded in several passes."""
    rng = np.random.default_rng(5)
    credit, price = _credit_records(500, "c"), [_price_record(rng, i, "p") for i in range(300)]
    world.label("credit", [(str(r["id"]), i % 2) for i, r in enumerate(credit[:60])])
    world.post("/v1/models/credit/predictions", {"predictions": credit[:300]})
    world.post("/v1/models/price/predictions", {"predictions": price[:200]})
    world.label("price", [(str(r["id"]), float(i)) for i, r in enumerate(price[:50])])
    world.jobs.catch_up()  # 150 rows a pass
    world.post("/v1/models/credit/predictions", {"predictions": credit[300:]})
    world.post("/v1/models/price/predictions", {"predictions": price[200:]})
    world.label("credit", [(str(r["id"]), 1) for r in credit[100:400]])  # late, and with them
    world.label("price", [(str(r["id"]), -2.5) for r in price[50:250]])
    world.jobs.catch_up()


def _same_batches(old: Batch, new: Batch) -> None:
    assert old.rows == new.rows
    for group in ("numeric", "attributions"):
        left, right = getattr(old, group), getattr(new, group)
        assert list(left) == list(right)
        for name in left:
            np.testing.assert_array_equal(left[name], right[name])
    for group in ("categorical", "attributes"):
        left, right = getattr(old, group), getattr(new, group)
        assert {k: list(v) for k, v in left.items()} == {k: list(v) for k, v in right.items()}
    for name in ("predictions", "scores", "labels"):
        left, right = getattr(old, name), getattr(new, name)
        assert (left is None) == (right is None), name
        if left is not None:
            np.testing.assert_array_equal(np.asarray(left), np.asarray(right))


def _versions(world: World) -> Iterator[tuple[Any, Any, Any, Any, dict[Any, Any]]]:
    """Per model: spec, layout, rows (row path), columns, stored bucket profiles by start."""
    with unit_of_work(world.jobs.sessions) as session:
        for name in ("credit", "price"):
            model = load_model(session, name)
            spec = model.latest
            row = repository.active_layouts(session)[spec.version_id]
            rows = repository.version_events(
                session, model.model_id, spec.version_id, predictions_upto=ALL, outcomes_upto=ALL
            )
            columns = repository.version_event_columns(
                session, model.model_id, spec, predictions_upto=ALL, outcomes_upto=ALL
            )
            query = select(BucketProfile).where(BucketProfile.layout_id == row.id, BucketProfile.level == 0)
            stored = {p.start: profile_from_bytes(p.body) for p in session.execute(query).scalars()}
            yield spec, (layout_of(row), row.bucket_seconds), rows, columns, stored


def test_columns_give_the_batches_and_profiles_of_the_rows(world: World) -> None:
    _fill(world)
    for spec, (layout, _), rows, columns, _ in _versions(world):
        assert len(rows) == columns.rows > 200
        old = repository.EVENT_OFFSET
        _same_batches(frames.to_batch(spec, rows, offset=old), frames.batch_of(spec, columns))
        for build in (build_profile, label_delta):
            expected = build(layout, frames.to_batch(spec, rows, offset=old))
            assert profile_to_dict(build(layout, frames.batch_of(spec, columns))) == profile_to_dict(expected)
        unseen = frames.batch_of(spec, columns).categorical["purpose"]
        assert {"", "a,b", "two\nlines", "NULL", "\\N"} <= set(unseen) and None not in set(unseen)


def test_folded_bucket_profiles_equal_the_rows_profiled_in_one_go(world: World) -> None:
    _fill(world)
    for spec, (layout, size), rows, _, stored in _versions(world):
        by_bucket: dict[Any, list[Any]] = defaultdict(list)
        for row in rows:
            by_bucket[grid.at(row[repository.EVENT_SECONDS] // size * size)].append(row)
        assert set(stored) == set(by_bucket)
        for start, bucket_rows in by_bucket.items():
            batch = frames.to_batch(spec, bucket_rows, offset=repository.EVENT_OFFSET)
            _close(profile_to_dict(stored[start]), profile_to_dict(build_profile(layout, batch)))


def _close(left: Any, right: Any, path: str = "") -> None:
    """Equal structures: counts and texts exactly, floats to 1e-12 relative (a label folded
    in a later pass is added to sums in another order than in one go)."""
    if isinstance(left, dict):
        assert list(left) == list(right), path
        for key in left:
            _close(left[key], right[key], f"{path}.{key}")
    elif isinstance(left, list):
        assert len(left) == len(right), path
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            _close(a, b, f"{path}[{i}]")
    elif isinstance(left, float) or isinstance(right, float):
        # math.isclose, not pytest.approx: ~10^6 floats here, and approx's per-call set-up took
        # ~30 of the test's ~40 s (cProfile); the tolerance is the same to 1e-24.
        assert left == right or math.isclose(left, right, rel_tol=1e-12, abs_tol=1e-12), (path, left, right)
    else:
        assert left == right, path
