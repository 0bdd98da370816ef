"""Incremental aggregation against an oracle: the profile built in one go from the stored rows."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import create_engine, select, text

from service.aggregation import repository
from service.aggregation.frames import to_batch
from service.aggregation.layouts import layout_of
from service.app import create_app
from service.config import Settings
from service.registry.service import load_model
from service.runner import Pipeline
from service.stats.profile import build_profile
from service.stats.serialize import profile_from_bytes
from service.storage.database import unit_of_work
from service.storage.engine_tables import BucketProfile
from service.storage.partitions import create_partitions
from tests.asgi_client import AppClient, app_client
from tests.windows import scenario

DAY = scenario.START.replace(hour=0)


class Harness:
    def __init__(self, client: AppClient, clock: scenario.MutableClock, jobs: Pipeline) -> None:
        self.client, self.clock, self.jobs = client, clock, jobs

    def send(self, records: list[dict[str, object]]) -> None:
        response = self.client.post("/v1/models/credit/predictions", json={"predictions": records})
        assert response.status_code == 200, response.text

    def label(self, pairs: list[tuple[str, int]]) -> None:
        at = self.clock.at.isoformat()
        body = {"outcomes": [{"prediction_id": i, "label": y, "timestamp": at} for i, y in pairs]}
        assert self.client.post("/v1/models/credit/outcomes", json=body).status_code == 200

    def day_profile(self, level: int = 2) -> dict[object, object]:
        with unit_of_work(self.jobs.sessions) as session:
            rows = session.execute(select(BucketProfile).where(BucketProfile.level == level)).scalars()
            return {row.start: profile_from_bytes(row.body) for row in rows}

    def oracle(self) -> object:
        """The profile of every stored prediction with its stored label, built in one call."""
        with unit_of_work(self.jobs.sessions) as session:
            model = load_model(session, "credit")
            layout_row = repository.active_layouts(session)[model.latest.version_id]
            events = repository.version_events(
                session,
                model.model_id,
                model.latest.version_id,
                predictions_upto=10**12,
                outcomes_upto=10**12,
            )
            return build_profile(
                layout_of(layout_row), to_batch(model.latest, events, offset=repository.EVENT_OFFSET)
            )


@pytest.fixture
def harness(database_url: str) -> Iterator[Harness]:
    with _registered(database_url) as opened:
        yield opened


@contextmanager
def _registered(database_url: str) -> Iterator[Harness]:
    """The app and jobs on ``database_url``, the credit model registered with its reference."""
    settings = Settings(database_url=database_url, run_jobs=False, aggregation_pass_rows=150)
    clock = scenario.MutableClock(DAY + timedelta(days=1))
    app = create_app(settings, clock=clock)
    with app_client(app) as client:
        assert client.post("/v1/models", json=scenario.registration()).status_code == 201
        assert (
            client.post("/v1/models/credit/reference", json={"rows": scenario.reference()}).status_code == 200
        )
        yield Harness(client, clock, Pipeline(app.state.context.sessions, settings, clock))
    app.state.context.engine.dispose()


def _records(n: int, prefix: str) -> list[dict[str, object]]:
    rows = scenario._rows(
        np.random.default_rng(len(prefix) + n), n, DAY, timedelta(hours=20), day=1, prefix=prefix
    )
    return rows.records


def _same(left: object, right: object) -> None:
    """Profiles equal: counts exactly, float sums to 1e-9 relative (merge order differs)."""
    assert type(left) is type(right)
    np.testing.assert_allclose(_flat(left), _flat(right), rtol=1e-9, atol=1e-9)


def _flat(value: object) -> list[float]:
    if value is None:
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, str):
        return []
    if isinstance(value, dict):
        return [x for k in sorted(value, key=repr) for x in [hash(repr(k)) % 97, *_flat(value[k])]]
    if isinstance(value, (tuple, list)):
        return [x for item in value for x in _flat(item)]
    slots = getattr(type(value), "__slots__", ())
    return [x for name in slots for x in _flat(getattr(value, name))]


@pytest.mark.slow
def test_passes_in_any_grouping_give_the_profile_built_in_one_go(harness: Harness) -> None:
    first, second = _records(400, "a"), _records(300, "b")
    harness.label([(str(r["id"]), 1) for r in first[:50]])  # outcomes before their predictions
    harness.send(first)
    harness.jobs.catch_up()  # 150 rows per pass: several passes
    harness.label([(str(r["id"]), i % 2) for i, r in enumerate(first[50:250])])  # late labels
    harness.send(second)
    harness.label([(str(r["id"]), 0) for r in second[:100]])
    assert harness.jobs.catch_up() == 300
    (day,) = harness.day_profile().values()
    _same(day, harness.oracle())
    assert day.outcomes[()].binary.labelled == 50 + 200 + 100  # type: ignore[attr-defined]
    hours = harness.day_profile(level=1)
    assert sum(p.rows for p in hours.values()) == 700  # type: ignore[attr-defined]


@pytest.mark.slow
def test_a_second_run_reads_nothing_and_changes_nothing(harness: Harness) -> None:
    harness.send(_records(200, "a"))
    harness.jobs.catch_up()
    before = harness.day_profile()
    assert harness.jobs.catch_up() == 0
    assert harness.jobs.aggregate_once() == (True, 0, 0)
    after = harness.day_profile()
    assert before.keys() == after.keys()
    for key in before:
        _same(before[key], after[key])


@pytest.mark.slow
def test_a_late_outcome_changes_only_the_bucket_of_its_prediction(harness: Harness) -> None:
    records = _records(200, "a")
    harness.send(records)
    harness.jobs.catch_up()
    buckets_before = harness.day_profile(level=0)
    target = records[150]
    harness.clock.at += timedelta(days=9)  # the label comes 9 days later
    harness.label([(str(target["id"]), 1)])
    harness.jobs.catch_up()
    buckets_after = harness.day_profile(level=0)
    changed = [k for k in buckets_before if _flat(buckets_before[k]) != _flat(buckets_after[k])]
    assert len(changed) == 1
    (start,) = changed
    sent_at = scenario.START.fromisoformat(str(target["timestamp"]))
    assert start <= sent_at < start + timedelta(minutes=15)  # type: ignore[operator]


@pytest.mark.postgres
def test_an_insert_committed_late_with_a_lower_id_is_not_skipped(postgres_url: str) -> None:
    """Postgres hands out ids at insert time: id 1 may commit after id 2. The watermark must
    not pass id 1 while its transaction is open (committed_high_water waits for it)."""
    with _registered(postgres_url) as harness:
        client, jobs = harness.client, harness.jobs
        jobs.catch_up()
        with unit_of_work(jobs.sessions) as session:
            model = load_model(session, "credit")
        slow_engine = create_engine(postgres_url)
        with slow_engine.begin() as connection:  # the raw INSERT below needs its day's partition
            create_partitions(connection, "predictions", DAY, DAY + timedelta(hours=1), 1)
        slow = slow_engine.connect()
        transaction = slow.begin()
        # The slow writer inserts first (the lower id) and commits last.
        slow.execute(
            text(
                "INSERT INTO predictions (model_id, version_id, prediction_id, event_time, received_at,"
                " features, attributes, score, predicted_label, content_hash) VALUES (:m, :v, 'slow-0',"
                " :t, :t, CAST(:f AS jsonb), '{}'::jsonb, 0.5, '1', :h) RETURNING id"
            ),
            {
                "m": model.model_id,
                "v": model.latest.version_id,
                "t": DAY + timedelta(hours=1),
                "f": '{"income": 1.0, "debt": 2.0, "age": 3.0, "purpose": "car", "housing": "own"}',
                "h": b"0123456789abcdef",
            },
        )
        fast = client.post("/v1/models/credit/predictions", json={"predictions": _records(1, "fast")})
        assert fast.status_code == 200
        folded: list[int] = []
        worker = threading.Thread(target=lambda: folded.append(jobs.catch_up()))
        worker.start()
        time.sleep(0.5)
        assert worker.is_alive()  # waiting for the slow writer, not skipping past it
        transaction.commit()
        slow.close()
        slow_engine.dispose()
        worker.join(timeout=10)
        assert folded == [2]


@pytest.mark.slow
def test_job_lag_is_how_long_the_oldest_due_window_has_waited(harness: Harness) -> None:
    assert harness.client.get("/v1/models/credit/monitor").json()["status"]["lag_seconds"] is None
    harness.send(_records(300, "a"))  # 20 h of traffic from midnight; the clock is at midnight + 1 d
    harness.jobs.catch_up()
    status = harness.client.get("/v1/models/credit/monitor").json()["status"]
    oldest_due = DAY + timedelta(hours=1)  # the first 24 h window holding the first 5-minute bucket
    assert status["pending_windows"] == 24
    assert status["lag_seconds"] == (harness.clock.at - oldest_due).total_seconds()
    while harness.jobs.evaluate_once():
        pass
    status = harness.client.get("/v1/models/credit/monitor").json()["status"]
    assert status["pending_windows"] == 0 and status["lag_seconds"] == 0.0
    harness.clock.at += timedelta(days=5)  # the later windows fall due; no traffic since
    assert harness.client.get("/v1/models/credit/monitor").json()["status"]["lag_seconds"] > 0
    harness.jobs.catch_up()  # a pass with nothing new still says every event is folded
    while harness.jobs.evaluate_once():
        pass
    status = harness.client.get("/v1/models/credit/monitor").json()["status"]
    assert status["lag_seconds"] == 0.0  # days after the last window: idle, not behind
    assert harness.clock.at - datetime.fromisoformat(status["last_window_end"]) > timedelta(days=3)


@pytest.mark.slow
def test_a_window_is_not_evaluated_before_its_events_are_folded(harness: Harness) -> None:
    """Another worker may still be folding a window's last events when it falls due: the
    window waits for a pass that caught up after its end, instead of being judged on part."""
    harness.send(_records(300, "a"))
    harness.jobs.catch_up()
    while harness.jobs.evaluate_once():
        pass
    harness.clock.at += timedelta(hours=3)  # three more windows end; nothing folded since
    assert harness.client.get("/v1/models/credit/monitor").json()["status"]["pending_windows"] == 3
    assert harness.jobs.evaluate_once() == 0
    harness.jobs.catch_up()
    assert harness.jobs.evaluate_once() == 3
