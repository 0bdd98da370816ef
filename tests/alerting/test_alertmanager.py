"""Alert states pushed to a real Alertmanager, which notifies a webhook receiver on loopback."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy.orm import Session, sessionmaker

from service.alerting.alertmanager import AlertForPush, AlertmanagerSync, alertmanager_payload
from service.alerting.labels import alert_labels
from service.config import Settings
from service.storage.alerting_tables import Alert
from service.storage.database import create_database_engine, create_session_factory, unit_of_work
from service.storage.registry_tables import Model, ModelVersion
from tests.live import LOOPBACK
from tests.tools import require_binary
from tests.windows.scenario import MutableClock

T = TypeVar("T")
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
BASE_URL = "http://modelmon.test"
WAIT_SECONDS = 15.0


# ---------------------------------------------------------------- the payload


def for_push(**overrides: Any) -> AlertForPush:
    fired, window = NOW - timedelta(hours=1), (NOW - timedelta(days=1), NOW)
    subject = ("credit", "v1", "drift", "psi", "income", "", "")
    alert = AlertForPush(7, *subject, "warning", "firing", "income drifted", 0.31, 0.2, fired, None, *window)
    return replace(alert, **overrides)


def test_an_alert_of_an_incident_carries_an_incident_label_to_group_by() -> None:
    [grouped, alone] = alertmanager_payload(
        [for_push(incident=12), for_push(id=8)], BASE_URL, now=NOW, resend_seconds=60
    )
    assert grouped["labels"]["incident"] == "12"
    assert "incident" not in alone["labels"]  # not grouped yet (e.g. pushed by an older version)
    assert {k: v for k, v in grouped["labels"].items() if k != "incident"} == alone["labels"]


def test_a_firing_alert_carries_the_shared_labels_and_ends_after_four_resends() -> None:
    [item] = alertmanager_payload([for_push()], BASE_URL + "/", now=NOW, resend_seconds=60)
    expected = alert_labels(
        family="drift", model="credit", version="v1", metric="psi", feature="income", severity="warning"
    )
    assert item["labels"] == expected
    assert item["labels"]["alertname"] == "ModelmonFeatureDrift"
    assert item["startsAt"] == "2026-11-22T11:00:00Z"
    assert item["endsAt"] == "2026-11-22T12:04:00Z"
    assert item["generatorURL"] == "http://modelmon.test/v1/alerts/7"
    annotations = item["annotations"]
    assert annotations["summary"] == "income drifted"
    assert annotations["modelmon_alert_id"] == "7"
    assert "value 0.31" in annotations["description"]
    assert "threshold 0.2" in annotations["description"]
    assert "2026-11-21T12:00:00Z" in annotations["description"]


def test_a_resolved_alert_ends_when_it_was_resolved() -> None:
    resolved = for_push(state="resolved", resolved_at=NOW - timedelta(minutes=5))
    [item] = alertmanager_payload([resolved], BASE_URL, now=NOW, resend_seconds=60)
    assert item["endsAt"] == "2026-11-22T11:55:00Z"


def test_absent_subjects_and_version_are_left_out_of_the_labels() -> None:
    alert = for_push(family="no_data", metric="rows", feature="", version=None, value=None, window_start=None)
    [item] = alertmanager_payload([alert], BASE_URL, now=NOW, resend_seconds=60)
    assert list(item["labels"]) == ["alertname", "model", "family", "metric", "severity"]
    assert item["labels"]["alertname"] == "ModelmonNoData"
    assert item["annotations"]["description"] == "value n/a, threshold 0.2"


# ---------------------------------------------------------------- loopback HTTP helpers


def wait_for(probe: Callable[[], T | None], what: str) -> T:
    """Poll ``probe`` until it answers something truthy; fail after 15 s."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"waited {WAIT_SECONDS:.0f} s for {what}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Recorder:
    """A threaded HTTP server on loopback that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self.status = 200
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                with recorder._lock:
                    recorder.bodies.append(body)
                self.send_response(recorder.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep the test output clean

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def received(self) -> list[Any]:
        with self._lock:
            return list(self.bodies)

    def __enter__(self) -> Recorder:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Recorder]:
    """Alertmanager's webhook receiver."""
    with Recorder() as server:
        yield server


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """A stand-in Alertmanager that records pushes, for the when-to-push rules."""
    with Recorder() as server:
        yield server


def _alertmanager_config(receiver_url: str) -> dict[str, Any]:
    # Every alert its own group ("..."), so tests never share a notification; but alerts of an
    # incident, grouped by it as docs/alerting.md advises.
    route = {"receiver": "hook", "group_by": ["..."], "group_wait": "1s", "group_interval": "1s"}
    by_incident = route | {"matchers": ['incident=~".+"'], "group_by": ["model", "incident"]}
    hook = {"url": receiver_url + "/hook", "send_resolved": True}
    return {
        "route": route | {"repeat_interval": "24h", "routes": [by_incident]},
        "receivers": [{"name": "hook", "webhook_configs": [hook]}],
    }


@pytest.fixture(scope="module")
def alertmanager(receiver: Recorder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Alertmanager on loopback (no cluster listener) routing everything to ``receiver``."""
    binary = require_binary("prometheus-alertmanager", "alertmanager")
    directory = tmp_path_factory.mktemp("alertmanager")
    config = directory / "alertmanager.yml"
    config.write_text(json.dumps(_alertmanager_config(receiver.url)))  # JSON is YAML
    url = f"http://127.0.0.1:{free_port()}"
    command = [binary, f"--config.file={config}", f"--storage.path={directory / 'data'}"]
    command += [f"--web.listen-address={url.removeprefix('http://')}", "--cluster.listen-address="]
    with (directory / "log.txt").open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_ready(url, process, directory / "log.txt")
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    def ready() -> bool:
        if process.poll() is not None:
            pytest.fail(f"alertmanager exited: {log.read_text()[-2000:]}")
        try:
            return LOOPBACK.get(url + "/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(ready, "alertmanager to be ready")


# ---------------------------------------------------------------- database rows


class Seed:
    """Rows written through the ORM: a model with one version, under a unique name, and its alerts."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.name = f"credit-{uuid.uuid4().hex[:8]}"
        with unit_of_work(sessions) as session:
            model = Model(name=self.name, created_at=NOW)
            session.add(model)
            session.flush()
            spec: dict[str, Any] = {"spec": {}, "spec_hash": "0" * 64, "provenance": {}, "created_at": NOW}
            version = ModelVersion(model_id=model.id, version="v1", task="binary_classification", **spec)
            session.add(version)
            session.flush()
            self.model_id, self.version_id = model.id, version.id

    def alert(self, *, fired_at: datetime | None = None, **overrides: Any) -> int:
        fired = fired_at or datetime.now(UTC) - timedelta(minutes=10)
        values: dict[str, Any] = {"rule": "drift", "family": "drift", "metric": "psi", "feature": "income"}
        values |= {
            "attribute": "",
            "group": "",
            "direction": "high",
            "state": "firing",
            "severity": "critical",
        }
        values |= {"value": 0.4, "threshold": 0.2, "summary": "income drifted (PSI 0.4 > 0.2)"}
        values |= {"started_at": fired - timedelta(hours=6), "fired_at": fired, "updated_at": fired}
        ids = {"fingerprint": uuid.uuid4().hex, "model_id": self.model_id, "version_id": self.version_id}
        with unit_of_work(self.sessions) as session:
            alert = Alert(**(values | ids | overrides))
            session.add(alert)
            session.flush()
            return alert.id

    def resolve(self, alert_id: int, at: datetime) -> None:
        with unit_of_work(self.sessions) as session:
            alert = session.get(Alert, alert_id)
            assert alert is not None
            alert.state, alert.resolved_at, alert.updated_at = "resolved", at, at


@pytest.fixture
def seed(settings: Settings) -> Iterator[Seed]:
    engine = create_database_engine(settings)
    yield Seed(create_session_factory(engine))
    engine.dispose()


SyncFactory = Callable[[str | None, MutableClock], AlertmanagerSync]


@pytest.fixture
def make_sync(settings: Settings, seed: Seed) -> Iterator[SyncFactory]:
    """Build an AlertmanagerSync (a fresh one is a restarted worker) pushing to ``url``."""
    made: list[AlertmanagerSync] = []

    def build(url: str | None, clock: MutableClock) -> AlertmanagerSync:
        configured = Settings(
            database_url=settings.database_url,
            run_jobs=False,
            public_url=BASE_URL,
            alertmanager_url=url,
            alertmanager_resend_seconds=30,
            http_timeout_seconds=2,
        )
        made.append(AlertmanagerSync(seed.sessions, configured, clock))
        return made[-1]

    yield build
    for sync in made:
        sync.close()


def pushes(outcome: str) -> float:
    return REGISTRY.get_sample_value("modelmon_alertmanager_pushes_total", {"outcome": outcome}) or 0.0


# ---------------------------------------------------------------- against a real Alertmanager


def notifications(receiver: Recorder, model: str, status: str) -> list[dict[str, Any]]:
    """Alerts of ``model`` in webhook notifications of ``status``."""
    return [
        alert
        for body in receiver.received()
        if body["status"] == status
        for alert in body["alerts"]
        if alert["labels"].get("model") == model
    ]


@pytest.mark.slow
def test_a_firing_then_resolved_alert_reaches_the_receiver_through_alertmanager(
    alertmanager: str, receiver: Recorder, seed: Seed, make_sync: SyncFactory
) -> None:
    clock = MutableClock(datetime.now(UTC))
    alert_id = seed.alert()
    sync = make_sync(alertmanager, clock)
    assert sync.run_once() == 1
    [firing] = wait_for(lambda: notifications(receiver, seed.name, "firing"), "the firing notification")
    assert firing["labels"] == alert_labels(
        family="drift", model=seed.name, version="v1", metric="psi", feature="income", severity="critical"
    )
    assert firing["annotations"]["modelmon_alert_id"] == str(alert_id)
    assert firing["generatorURL"] == f"{BASE_URL}/v1/alerts/{alert_id}"
    clock.at = datetime.now(UTC)
    seed.resolve(alert_id, clock())
    assert sync.run_once() == 1
    [resolved] = wait_for(lambda: notifications(receiver, seed.name, "resolved"), "the resolved one")
    assert resolved["labels"] == firing["labels"]


@pytest.mark.slow
def test_the_alerts_of_an_incident_reach_the_receiver_as_one_notification(
    alertmanager: str, receiver: Recorder, seed: Seed, make_sync: SyncFactory
) -> None:
    # Fired now: Alertmanager flushes a new group at once when its first alert started more than
    # group_wait (1 s) ago, which raced the second alert of the same push into a second message.
    now = datetime.now(UTC)
    storm = [seed.alert(incident_id=41, metric=metric, fired_at=now) for metric in ("psi", "drift_score")]
    seed.alert(feature="purpose")  # in no incident: its own group
    assert make_sync(alertmanager, MutableClock(now)).run_once() == 3

    def grouped() -> list[dict[str, Any]] | None:
        bodies = [b for b in receiver.received() if b["groupLabels"].get("incident") == "41"]
        ours = [b for b in bodies if b["groupLabels"].get("model") == seed.name]
        return ours or None

    [body] = wait_for(grouped, "the incident's notification")
    assert sorted(int(a["annotations"]["modelmon_alert_id"]) for a in body["alerts"]) == storm


def test_a_silenced_alert_is_not_pushed(
    alertmanager: str, receiver: Recorder, seed: Seed, make_sync: SyncFactory
) -> None:
    clock = MutableClock(datetime.now(UTC))
    seed.alert(feature="income")
    seed.alert(feature="debt", silenced_by=1)
    seed.alert(feature="age", silenced_by=1, state="resolved", resolved_at=clock() - timedelta(seconds=5))
    assert make_sync(alertmanager, clock).run_once() == 1
    wait_for(lambda: notifications(receiver, seed.name, "firing"), "the firing notification")
    held = httpx.get(alertmanager + "/api/v2/alerts", params={"filter": f'model="{seed.name}"'}, timeout=5)
    assert [alert["labels"]["feature"] for alert in held.json()] == ["income"]
    notified = notifications(receiver, seed.name, "firing")
    assert {alert["labels"]["feature"] for alert in notified} == {"income"}


# ---------------------------------------------------------------- when to push


def test_pushes_on_change_and_after_the_resend_interval_only(
    recorder: Recorder, seed: Seed, make_sync: SyncFactory
) -> None:
    clock = MutableClock(NOW)
    first = seed.alert(fired_at=NOW - timedelta(hours=1))
    sync = make_sync(recorder.url, clock)
    assert sync.run_once() == 1
    assert sync.run_once() == 0  # nothing changed, resend not due
    clock.at += timedelta(seconds=29)
    assert sync.run_once() == 0
    clock.at += timedelta(seconds=1)
    assert sync.run_once() == 1  # resend: Alertmanager's endsAt is renewed
    seed.alert(feature="debt", fired_at=clock())
    assert sync.run_once() == 2  # a new firing alert is a change
    bodies = recorder.received()
    assert [len(body) for body in bodies] == [1, 1, 2]
    assert bodies[1][0]["endsAt"] == "2026-11-22T12:02:30Z"  # 30 s later + 4 × 30 s
    seed.resolve(first, clock())
    assert sync.run_once() == 2  # the resolution and the firing one
    last = {item["annotations"]["modelmon_alert_id"]: item for item in recorder.received()[-1]}
    assert last[str(first)]["endsAt"] == "2026-11-22T12:00:30Z"
    assert sync.run_once() == 0


def test_a_restarted_sync_resends_recent_resolutions_only(
    recorder: Recorder, seed: Seed, make_sync: SyncFactory
) -> None:
    clock = MutableClock(NOW)
    seed.resolve(seed.alert(fired_at=NOW - timedelta(hours=1)), NOW)
    assert make_sync(recorder.url, clock).run_once() == 1
    assert make_sync(recorder.url, clock).run_once() == 1
    clock.at = NOW + timedelta(seconds=4 * 30)
    assert make_sync(recorder.url, clock).run_once() == 1
    clock.at += timedelta(seconds=1)
    assert make_sync(recorder.url, clock).run_once() == 0


def test_no_alertmanager_configured_is_a_no_op(seed: Seed, make_sync: SyncFactory) -> None:
    seed.alert()
    assert make_sync(None, MutableClock(NOW)).run_once() == 0


def test_an_unreachable_alertmanager_counts_an_error_and_does_not_raise(
    seed: Seed, make_sync: SyncFactory
) -> None:
    seed.alert()
    errors = pushes("error")
    sync = make_sync(f"http://127.0.0.1:{free_port()}", MutableClock(NOW))
    assert sync.run_once() == 0
    assert pushes("error") == errors + 1
    assert sync.last_push is None


def test_a_failed_push_is_retried_next_round(recorder: Recorder, seed: Seed, make_sync: SyncFactory) -> None:
    seed.alert()
    recorder.status = 503
    errors, ok = pushes("error"), pushes("ok")
    sync = make_sync(recorder.url, MutableClock(NOW))
    assert sync.run_once() == 0
    recorder.status = 200
    assert sync.run_once() == 1  # same clock: retried although the resend is not due
    assert (pushes("error"), pushes("ok")) == (errors + 1, ok + 1)
