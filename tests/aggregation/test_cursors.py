"""A cursor per model: two workers fold two models at once, each event counted once; a model
a worker holds blocks no other, nor its windows; the migration carries the one global
watermark over; a window evaluated on demand folds its model's events first."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from service.aggregation import repository
from service.aggregation.cursors import HighWater, fold_now
from service.aggregation.frames import to_batch
from service.aggregation.layouts import layout_of
from service.aggregation.service import Limits
from service.app import create_app
from service.config import Settings
from service.errors import Unavailable
from service.registry.service import load_model
from service.runner import Pipeline
from service.stats.profile import Profile, build_profile
from service.stats.serialize import profile_from_bytes
from service.storage.database import unit_of_work
from service.storage.migrations import downgrade, upgrade
from tests.aggregation.test_aggregation import _same
from tests.asgi_client import AppClient, app_client
from tests.windows import scenario

DAY = scenario.START.replace(hour=0)
MODELS = ("alpha", "beta")


@dataclass
class World:
    client: AppClient
    clock: scenario.MutableClock
    settings: Settings
    sessions: sessionmaker[Session]

    def worker(self) -> Pipeline:
        return Pipeline(self.sessions, self.settings, self.clock)

    def send(self, model: str, records: list[dict[str, Any]]) -> None:
        response = self.client.post(f"/v1/models/{model}/predictions", json={"predictions": records})
        assert response.status_code == 200, response.text

    def label(self, model: str, pairs: list[tuple[str, int]]) -> None:
        at = self.clock.at.isoformat()
        body = {"outcomes": [{"prediction_id": i, "label": y, "timestamp": at} for i, y in pairs]}
        assert self.client.post(f"/v1/models/{model}/outcomes", json=body).status_code == 200

    def model_id(self, model: str) -> int:
        with unit_of_work(self.sessions) as session:
            return load_model(session, model).model_id

    def profiles(self, model: str) -> dict[tuple[int, object], Profile]:
        """Every stored profile of the model's active layout by (level, start)."""
        sql = text(
            "SELECT b.level, b.start, b.body FROM bucket_profiles b JOIN layouts l ON l.id = b.layout_id "
            "JOIN model_versions v ON v.id = l.version_id JOIN models m ON m.id = v.model_id "
            "WHERE m.name = :m AND l.active"
        )
        with unit_of_work(self.sessions) as session:
            rows = session.execute(sql, {"m": model}).all()
        return {(int(level), str(start)): profile_from_bytes(bytes(body)) for level, start, body in rows}

    def oracle(self, model: str) -> Profile:
        """The profile of every stored prediction of the model with its stored label, in one go."""
        with unit_of_work(self.sessions) as session:
            registered = load_model(session, model)
            version = registered.latest
            row = repository.active_layouts(session)[version.version_id]
            events = repository.version_events(
                session,
                registered.model_id,
                version.version_id,
                predictions_upto=10**12,
                outcomes_upto=10**12,
            )
            return build_profile(layout_of(row), to_batch(version, events, offset=repository.EVENT_OFFSET))


@contextmanager
def _world(database_url: str, pass_rows: int = 150) -> Iterator[World]:
    """The app on ``database_url`` with two models of the same schema and reference."""
    settings = Settings(database_url=database_url, run_jobs=False, aggregation_pass_rows=pass_rows)
    clock = scenario.MutableClock(DAY + timedelta(days=1))
    app = create_app(settings, clock=clock)
    with app_client(app) as client:
        for name in MODELS:
            assert (
                client.post("/v1/models", json={**scenario.registration(), "name": name}).status_code == 201
            )
            reference = client.post(f"/v1/models/{name}/reference", json={"rows": scenario.reference()})
            assert reference.status_code == 200
        yield World(client, clock, settings, app.state.context.sessions)
    app.state.context.engine.dispose()


def _records(n: int, prefix: str, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed + n)
    rows = scenario._rows(rng, n, DAY, timedelta(hours=20), day=1, prefix=prefix)
    return rows.records


def _in_threads(*work: Callable[[], object], timeout: float = 120) -> None:
    errors: list[BaseException] = []

    def run(task: Callable[[], object]) -> None:
        try:
            task()
        except BaseException as error:  # reported to the test below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(task,)) for task in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), "a worker did not finish"
    assert errors == []


def _check_against_oracle(world: World, model: str, rows: int, labelled: int) -> None:
    (day,) = [p for (level, _), p in world.profiles(model).items() if level == 2]
    _same(day, world.oracle(model))
    assert day.rows == rows
    assert day.outcomes[()].binary is not None and day.outcomes[()].binary.labelled == labelled


@pytest.mark.postgres
def test_two_workers_fold_two_models_at_once_each_event_counted_once(postgres_url: str) -> None:
    with _world(postgres_url) as world:
        sent = {name: _records(600, name[0], seed=i) for i, name in enumerate(MODELS)}
        for name, records in sent.items():
            world.label(name, [(str(r["id"]), 1) for r in records[:50]])  # outcomes before predictions
            world.send(name, records)
        workers = (world.worker(), world.worker())
        _in_threads(*(w.catch_up for w in workers))  # 150 rows a pass: 4+ passes a model
        for name, records in sent.items():  # late labels, folded by two workers again
            world.label(name, [(str(r["id"]), i % 2) for i, r in enumerate(records[100:300])])
        _in_threads(*(w.catch_up for w in workers))
        two = {name: world.profiles(name) for name in MODELS}
        for name in MODELS:
            _check_against_oracle(world, name, rows=600, labelled=250)
        # The same rows folded again by one worker from empty profiles and cursors at 0.
        with unit_of_work(world.sessions) as session:
            session.execute(text("DELETE FROM bucket_profiles"))
            session.execute(
                text("UPDATE aggregation_cursors SET prediction_watermark = 0, outcome_watermark = 0")
            )
        world.worker().catch_up()
        for name in MODELS:
            one = world.profiles(name)
            assert one.keys() == two[name].keys()
            for key in one:
                _same(one[key], two[name][key])


@contextmanager
def _holding(url: str, model_id: int) -> Iterator[Callable[[], None]]:
    """Another transaction holds the model's cursor (as a worker mid-pass does) until released."""
    engine = create_engine(url)
    connection = engine.connect()
    transaction = connection.begin()
    connection.execute(
        text("SELECT 1 FROM aggregation_cursors WHERE model_id = :m FOR UPDATE"), {"m": model_id}
    )
    released = threading.Event()

    def release() -> None:
        if not released.is_set():
            released.set()
            transaction.commit()

    try:
        yield release
    finally:
        release()
        connection.close()
        engine.dispose()


def _ensure_cursors(world: World) -> None:
    with unit_of_work(world.sessions) as session:
        repository.ensure_cursors(session, [world.model_id(m) for m in MODELS], world.clock())


@pytest.mark.postgres
def test_a_model_a_worker_holds_blocks_no_other_model(postgres_url: str) -> None:
    with _world(postgres_url) as world:
        for name in MODELS:
            world.send(name, _records(400, name[0]))
        _ensure_cursors(world)
        alpha = world.model_id("alpha")
        with _holding(postgres_url, alpha) as release:
            folded: list[int] = []
            _in_threads(lambda: folded.append(world.worker().catch_up()), timeout=60)
            assert folded == [400]  # beta's, without waiting for alpha
            assert world.profiles("alpha") == {}
            release()
            assert world.worker().catch_up() == 400
        for name in MODELS:
            _check_against_oracle(world, name, rows=400, labelled=0)


def _runs_ending_after(world: World, model: str, after: object) -> int:
    sql = text(
        "SELECT count(*) FROM window_runs r JOIN models m ON m.id = r.model_id"
        " WHERE m.name = :m AND r.window_end > :after"
    )
    with unit_of_work(world.sessions) as session:
        return int(session.execute(sql, {"m": model, "after": after}).scalar_one())


@pytest.mark.postgres
def test_a_model_behind_holds_back_its_own_windows_only(postgres_url: str) -> None:
    """Windows are due once they end before their own model's ``folded_through``: beta's
    windows are evaluated while alpha's cursor, held by another worker, is a day behind."""
    with _world(postgres_url) as world:
        for name in MODELS:
            world.send(name, _records(300, name[0]))
        world.worker().catch_up()  # both folded through DAY + 1 d
        folded_at = world.clock()
        world.clock.at += timedelta(days=1)
        for name in MODELS:
            world.send(name, _records(300, name[0] + "2", seed=5))
        with _holding(postgres_url, world.model_id("alpha")):
            worker = world.worker()
            assert worker.catch_up() == 300  # beta's only
            while worker.evaluate_once():
                pass
            assert _runs_ending_after(world, "beta", folded_at) > 0
            assert _runs_ending_after(world, "alpha", folded_at) == 0
        worker.catch_up()
        while worker.evaluate_once():
            pass
        assert _runs_ending_after(world, "alpha", folded_at) == _runs_ending_after(world, "beta", folded_at)


@pytest.mark.postgres
def test_ingestion_during_two_workers_passes_loses_nothing(postgres_url: str) -> None:
    with _world(postgres_url, pass_rows=100) as world:
        batches = {name: [_records(60, f"{name[0]}{i}-", seed=i) for i in range(12)] for name in MODELS}
        done = threading.Event()

        def ingest() -> None:
            for i in range(12):
                for name in MODELS:
                    world.send(name, batches[name][i])
                    world.label(name, [(str(r["id"]), 1) for r in batches[name][i][:10]])
            done.set()

        def fold(worker: Pipeline) -> None:
            while not done.is_set():
                worker.catch_up()

        workers = (world.worker(), world.worker())
        _in_threads(ingest, *(lambda w=w: fold(w) for w in workers))
        world.worker().catch_up()
        for name in MODELS:
            _check_against_oracle(world, name, rows=720, labelled=120)


@pytest.mark.postgres
def test_evaluate_now_waits_for_the_worker_holding_its_model(postgres_url: str) -> None:
    with _world(postgres_url) as world:
        world.send("alpha", _records(300, "a"))
        _ensure_cursors(world)
        with _holding(postgres_url, world.model_id("alpha")) as release:
            timer = threading.Timer(1.0, release)
            timer.start()
            started = time.monotonic()
            response = world.client.post("/v1/models/alpha/evaluate", json={})
            timer.join()
        assert response.status_code == 200, response.text
        assert time.monotonic() - started >= 1.0 and response.json()["rows"] == 300


@pytest.mark.postgres
def test_a_fold_now_that_waits_too_long_is_a_503(postgres_url: str) -> None:
    with _world(postgres_url) as world:
        world.send("alpha", _records(50, "a"))
        _ensure_cursors(world)
        alpha = world.model_id("alpha")
        with (
            _holding(postgres_url, alpha),
            pytest.raises(Unavailable) as raised,
            unit_of_work(world.sessions) as session,
        ):
            fold_now(
                    session, alpha, now=world.clock(), high_water=HighWater((10**9, 10**9)),
                    limits=Limits(), lock_timeout="200ms",
                )  # fmt: skip
        assert raised.value.status_code == 503 and raised.value.headers == {"Retry-After": "5"}
        assert world.profiles("alpha") == {}


def test_evaluate_now_on_an_unfolded_window_equals_it_after_a_worker_pass(database_url: str) -> None:
    """The same rows for two models: alpha's window evaluated before any worker ran, beta's
    after a worker folded its events."""
    with _world(database_url) as world:
        records = _records(500, "x")
        for name in MODELS:
            world.send(name, records)
            world.label(name, [(str(r["id"]), i % 2) for i, r in enumerate(records[:200])])
        cold = world.client.post("/v1/models/alpha/evaluate", json={})
        world.worker().catch_up()
        warm = world.client.post("/v1/models/beta/evaluate", json={})
        assert cold.status_code == warm.status_code == 200, cold.text
        assert cold.json()["rows"] == warm.json()["rows"] == 500

        def figures(body: dict[str, Any]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
            keys = ("family", "metric", "feature", "attribute", "group")
            return {tuple(i[k] for k in keys): (i["value"], i["n"], i["status"]) for i in body["items"]}

        assert figures(cold.json()) == figures(warm.json())
        assert len(figures(cold.json())) > 20


_STATE = (
    "INSERT INTO aggregation_state (stream, prediction_watermark, outcome_watermark, generation,"
    " updated_at, folded_through) VALUES ('events', 1234, 567, 9, '2026-11-22 11:00:00.000000',"
    " '2026-11-22 10:59:00.000000')"
)


def test_the_migration_carries_the_global_watermark_over_to_every_model(database_url: str) -> None:
    downgrade(database_url, "0008")
    try:
        engine = create_engine(database_url)
        with engine.begin() as connection:
            for name in MODELS:
                connection.execute(
                    text("INSERT INTO models (name, created_at) VALUES (:n, '2026-11-20 00:00:00.000000')"),
                    {"n": name},
                )
            connection.execute(text(_STATE))
        engine.dispose()
    finally:
        upgrade(database_url)
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT m.name, c.prediction_watermark, c.outcome_watermark, c.generation"
                " FROM aggregation_cursors c JOIN models m ON m.id = c.model_id ORDER BY m.name"
            )
        ).all()
        tables = connection.execute(
            text("SELECT count(*) FROM aggregation_cursors WHERE folded_through IS NULL")
        )
        assert tables.scalar_one() == 0
    engine.dispose()
    assert [tuple(r) for r in rows] == [("alpha", 1234, 567, 9), ("beta", 1234, 567, 9)]
