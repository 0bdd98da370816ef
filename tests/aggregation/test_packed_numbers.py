"""The numeric features packed beside the document (``predictions.numbers``, migration 0014):
written by every ingestion path in the version's schema order, and read in their place
wherever they can be, with the document read instead for rows without them (stored before the
column existed) and for rows of a version packed in another order."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select, update

from service.aggregation import repository
from service.aggregation.frames import EventColumns
from service.app import create_app
from service.config import Settings
from service.registry.service import VersionSpec, load_model
from service.storage.database import unit_of_work
from service.storage.event_tables import Prediction
from tests.asgi_client import AppClient, app_client
from tests.windows import scenario

DAY = scenario.START.replace(hour=0)
ALL = 10**12  # an id past every stored one
NUMERIC = ("income", "debt", "age")


def _v2() -> dict[str, Any]:
    """The credit schema with its numeric features in another order: rows of v1 and v2 pack
    three numbers each, in different orders."""
    registration = scenario.registration() | {"version": "v2"}
    features = registration["features"]
    registration["features"] = [features[2], features[0], features[1], *features[3:]]
    return registration


def _records(n: int, prefix: str, version: str) -> list[dict[str, Any]]:
    records = scenario._rows(
        np.random.default_rng(n), n, DAY, timedelta(hours=20), day=1, prefix=prefix
    ).records
    for i, record in enumerate(records):
        record["version"] = version
        if i % 5 == 0:
            record["features"]["debt"] = None
        if i % 7 == 0:
            record["features"]["age"] = int(record["features"]["age"] or 0)  # an integer in JSON
    return records


def _parquet(records: list[dict[str, Any]]) -> bytes:
    columns: dict[str, list[Any]] = {
        "id": [r["id"] for r in records],
        "timestamp": [r["timestamp"] for r in records],
        "version": [r["version"] for r in records],
        "prediction": [str(r["prediction"]) for r in records],
        "score": [r.get("score") for r in records],
    }
    for name in (*NUMERIC, "purpose", "housing"):
        columns[name] = [r["features"][name] for r in records]
    for name in ("sex", "age_band"):
        columns[name] = [r["attributes"].get(name) for r in records]
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink)
    return sink.getvalue()


@pytest.fixture
def client(database_url: str) -> Iterator[tuple[AppClient, Any]]:
    settings = Settings(database_url=database_url, run_jobs=False)
    app = create_app(settings, clock=scenario.MutableClock(DAY + timedelta(days=1)))
    with app_client(app) as client:
        for registration in (scenario.registration(), _v2()):
            assert client.post("/v1/models", json=registration).status_code == 201
        v1, v2 = _records(120, "a", "v1"), _records(90, "b", "v2")
        response = client.post("/v1/models/credit/predictions", json={"predictions": v1 + v2[:40]})
        assert response.status_code == 200, response.text
        response = client.post(
            "/v1/models/credit/predictions",
            content=_parquet(v2[40:]),
            headers={"Content-Type": "application/vnd.apache.parquet"},
        )
        assert response.status_code == 200, response.text
        outcomes = [
            {"prediction_id": r["id"], "label": i % 2, "timestamp": r["timestamp"]} for i, r in enumerate(v1)
        ]
        assert client.post("/v1/models/credit/outcomes", json={"outcomes": outcomes[::3]}).status_code == 200
        yield client, app.state.context.sessions
    app.state.context.engine.dispose()


def _specs(sessions: Any) -> dict[str, VersionSpec]:
    with unit_of_work(sessions) as session:
        return load_model(session, "credit").versions


def _read(sessions: Any, specs: list[VersionSpec]) -> EventColumns:
    """Every prediction of the model with its outcome, the features of ``specs``, by id."""
    with unit_of_work(sessions) as session:
        model_id = session.execute(select(Prediction.model_id).limit(1)).scalar_one()
        events = repository.new_predictions(session, 0, ALL, ALL, specs, model_id=model_id)
    return events.take(np.argsort(events.columns["id"]))


def _same(left: EventColumns, right: EventColumns) -> None:
    assert set(left.columns) == set(right.columns)
    for name, column in left.columns.items():
        if column.dtype == object:
            assert column.tolist() == right.columns[name].tolist(), name
        else:
            np.testing.assert_array_equal(column, right.columns[name], err_msg=name)


def test_every_ingestion_path_packs_the_numbers_in_schema_order(client: tuple[AppClient, Any]) -> None:
    _, sessions = client
    specs = _specs(sessions)
    assert specs["v1"].numeric_features == ("income", "debt", "age")
    assert specs["v2"].numeric_features == ("age", "income", "debt")
    with unit_of_work(sessions) as session:
        rows = session.execute(select(Prediction.version_id, Prediction.features, Prediction.numbers)).all()
    by_id = {spec.version_id: spec for spec in specs.values()}
    assert len(rows) == 210
    for version_id, features, numbers in rows:
        names = by_id[version_id].numeric_features
        packed = np.frombuffer(numbers, dtype="<f8")
        expected = [math.nan if features[n] is None else float(features[n]) for n in names]
        np.testing.assert_array_equal(packed, expected)


def test_rows_without_packed_numbers_read_as_with_them(client: tuple[AppClient, Any]) -> None:
    _, sessions = client
    v1 = _specs(sessions)["v1"]
    packed = _read(sessions, [v1])
    assert not np.isnan(packed.columns["f:income"]).all()
    with unit_of_work(sessions) as session:  # as rows stored before migration 0014
        session.execute(update(Prediction).where(Prediction.id % 3 != 0).values(numbers=None))
    _same(packed, _read(sessions, [v1]))
    with unit_of_work(sessions) as session:
        session.execute(update(Prediction).values(numbers=None))
    _same(packed, _read(sessions, [v1]))


def test_rows_of_a_version_packed_in_another_order_read_their_own_values(
    client: tuple[AppClient, Any],
) -> None:
    """A read for v1 sees v2's rows too (a fold reads every row of the model): their numbers,
    as wide as v1's but in another order, are read from their documents."""
    _, sessions = client
    specs = _specs(sessions)
    only_v1 = _read(sessions, [specs["v1"]])
    both = _read(sessions, [specs["v1"], specs["v2"]])  # different orders: no packed read at all
    with unit_of_work(sessions) as session:
        session.execute(update(Prediction).values(numbers=None))
    _same(only_v1, _read(sessions, [specs["v1"]]))
    _same(both, _read(sessions, [specs["v1"], specs["v2"]]))
    versions = only_v1.columns["version"]
    v2_rows = np.flatnonzero(versions == specs["v2"].version_id)
    assert v2_rows.size == 90 and not np.isnan(only_v1.columns["f:age"][v2_rows]).all()
