"""Two models with the same registration, reference and monitor configuration, a worker pass
that fits their layouts, and bucket profiles built the way a remote job builds them."""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np

from service.app import create_app
from service.config import Settings
from service.kernel import grid
from service.profiles.columns import batch_of
from service.runner import Pipeline
from service.stats.layout import Layout
from service.stats.profile import build_profile
from service.stats.serialize import profile_to_bytes
from tests.asgi_client import AppClient, app_client
from tests.windows import scenario

CONFIG: dict[str, Any] = {
    "window": "6h",
    "step": "3h",
    "bucket": "15m",
    "label_wait": "1h",
    "fairness": {"min_group_size": 30},
}
BUCKET = 900


def setup_model(client: AppClient | httpx.Client, name: str) -> None:
    """Register ``name`` (scenario's credit model), configure it and upload the reference."""
    assert client.post("/v1/models", json=scenario.registration() | {"name": name}).status_code == 201
    assert client.put(f"/v1/models/{name}/monitor", json=CONFIG).status_code == 200
    response = client.post(f"/v1/models/{name}/reference", json={"rows": scenario.reference()})
    assert response.status_code in (200, 201), response.text


def rows(n: int, start: datetime, hours: int, seed: int = 3) -> scenario.Rows:
    return scenario._rows(
        np.random.default_rng(seed), n, start, timedelta(hours=hours), day=2, prefix=f"s{seed}"
    )


def flat_columns(records: list[dict[str, Any]], labels: dict[str, int]) -> dict[str, list[Any]]:
    """The columnar contract's flat columns of JSON records (label joined by id)."""
    columns: dict[str, list[Any]] = defaultdict(list)
    for record in records:
        columns["id"].append(record["id"])
        columns["timestamp"].append(datetime.fromisoformat(record["timestamp"]))
        columns["prediction"].append(record["prediction"])
        columns["score"].append(record["score"])
        for name, value in (record["features"] | record["attributes"]).items():
            columns[name].append(value)
        columns["label"].append(labels.get(record["id"]))
    return dict(columns)


def bucket_bodies(
    layout: Layout, records: list[dict[str, Any]], labels: dict[str, int]
) -> dict[datetime, str]:
    """Bucket start → base64 profile, built from the records as a remote job would."""
    by_bucket: dict[datetime, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_bucket[grid.floor(datetime.fromisoformat(record["timestamp"]), BUCKET)].append(record)
    out = {}
    for start, members in by_bucket.items():
        columns = flat_columns(members, labels)
        profile = build_profile(layout, batch_of(layout, columns, len(members)))
        out[start] = base64.b64encode(profile_to_bytes(profile)).decode("ascii")
    return out


class World:
    def __init__(self, client: AppClient, clock: scenario.MutableClock, jobs: Pipeline) -> None:
        self.client, self.clock, self.jobs = client, clock, jobs

    def layout(self, name: str) -> dict[str, Any]:
        response = self.client.get(f"/v1/models/{name}/layout")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def upload(self, name: str, bodies: dict[datetime, str], source: str = "test:1", **extra: Any) -> Any:
        view = self.layout(name)
        body = {
            "layout_id": view["layout_id"],
            "layout_hash": view["layout_hash"],
            "source": source,
            "profiles": [{"start": s.isoformat(), "body": b} for s, b in sorted(bodies.items())],
        } | extra
        return self.client.post(f"/v1/models/{name}/profiles", json=body)


DAY = datetime(2026, 11, 2, tzinfo=UTC)


@contextmanager
def world(database_url: str, *names: str) -> Iterator[World]:
    """The app and jobs on ``database_url`` at ``DAY`` + 1 day, ``names`` set up, layouts fitted."""
    settings = Settings(database_url=database_url, run_jobs=False)
    clock = scenario.MutableClock(DAY + timedelta(days=1))
    app = create_app(settings, clock=clock)
    with app_client(app) as client:
        for name in names:
            setup_model(client, name)
        jobs = Pipeline(app.state.context.sessions, settings, clock)
        jobs.catch_up()
        yield World(client, clock, jobs)
    app.state.context.engine.dispose()
