"""The audit log: every change and human action, with the acting key, time, before and after;
append-only on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DatabaseError

from tests import factories
from tests.asgi_client import AppClient
from tests.auth.test_keys import bearer, make_key


def events(client: AppClient, **filters: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/audit", params=filters)
    assert response.status_code == 200, response.text
    found = response.json()["events"]
    assert isinstance(found, list)
    return found


@pytest.mark.slow
def test_configuration_changes_and_actions_are_recorded_with_who_and_what(client: AppClient) -> None:
    admin = make_key(client, "admin")
    as_admin = bearer(admin)
    assert client.post("/v1/models", json=factories.registration(), headers=as_admin).status_code == 201
    monitor = {"window": "24h", "step": "1h"}
    assert client.put("/v1/models/credit/monitor", json=monitor, headers=as_admin).status_code == 200
    changed = {"window": "12h", "step": "1h"}
    assert client.put("/v1/models/credit/monitor", json=changed, headers=as_admin).status_code == 200
    hook = {"url": "http://127.0.0.1:9/hook", "events": ["alert.firing"]}
    created = client.post("/v1/webhooks", json=hook, headers=as_admin).json()
    assert client.post(f"/v1/webhooks/{created['id']}/rotate-secret", headers=as_admin).status_code == 200
    silence = {
        "matchers": [{"name": "model", "value": "credit"}],
        "duration": "1h",
        "created_by": "bob",
        "comment": "deploy",
    }
    assert client.post("/v1/silences", json=silence, headers=as_admin).status_code == 201
    actions = [event["action"] for event in events(client)]
    assert actions == [
        "silence.created",
        "webhook.secret_rotated",
        "webhook.created",
        "monitor.changed",
        "monitor.changed",
        "model.registered",
        "key.created",
    ]
    latest_monitor = events(client, action="monitor.changed")[0]
    assert latest_monitor["actor"] == f"key:{admin[:12]}" and latest_monitor["actor_name"] == "admin test"
    assert latest_monitor["before"]["window"] == "1d" and latest_monitor["after"]["window"] == "12h"
    assert latest_monitor["target_type"] == "model" and latest_monitor["target"] == "credit"
    webhook = events(client, action="webhook.created")[0]
    assert "secret" not in webhook["after"] and created["secret"] not in str(webhook)
    assert webhook["after"]["url"] == hook["url"]


def test_an_invalid_change_leaves_no_event(client: AppClient) -> None:
    assert client.post("/v1/models", json=factories.registration()).status_code == 201
    before = len(events(client))
    assert client.put("/v1/models/credit/monitor", json={"window": "-1h"}).status_code == 422
    assert client.post("/v1/models", json=factories.registration()).status_code == 200  # identical: no change
    assert len(events(client)) == before


@pytest.mark.slow
def test_paging_and_filters(client: AppClient) -> None:
    for i in range(5):
        assert client.post("/v1/models", json=factories.registration(f"m{i}")).status_code == 201
    first = client.get("/v1/audit", params={"limit": 2}).json()
    second = client.get("/v1/audit", params={"limit": 2, "before": first["next_before"]}).json()
    ids = [e["id"] for e in first["events"] + second["events"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 4
    assert [e["target"] for e in events(client, target="m3@v1")] == ["m3@v1"]
    bad = client.get("/v1/audit", params={"action": "model.deleted"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "action"
    naive = client.get("/v1/audit", params={"since": "2026-11-22T10:00:00"})
    assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "since"


@pytest.mark.parametrize("statement", ["UPDATE audit_events SET actor = 'x'", "DELETE FROM audit_events"])
def test_the_audit_log_is_append_only_in_the_database(
    client: AppClient, database_url: str, statement: str
) -> None:
    assert client.post("/v1/models", json=factories.registration()).status_code == 201
    engine = create_engine(database_url)
    try:
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT actor FROM audit_events")).scalars().all()
    finally:
        engine.dispose()
    assert rows == ["env:MODELMON_ADMIN_KEY"]
