"""The webhook endpoints API: secrets shown once, validation naming the field, the SSRF
guard, 404s, rotation and the deliveries listing."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from tests.asgi_client import AppClient

HOOKS = "/v1/webhooks"
RECEIVER = "http://127.0.0.1:9/hook"  # loopback: allowed by the development default


def create(client: AppClient, url: str = RECEIVER, events: list[str] | None = None) -> dict[str, Any]:
    body = {"url": url, "events": events or ["alert.firing"], "description": "on-call"}
    response = client.post(HOOKS, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def patch(client: AppClient, url: str, body: dict[str, Any]) -> Any:
    return client.request("PATCH", url, json=body)


def test_the_secret_is_answered_on_creation_and_never_again(client: AppClient) -> None:
    created = create(client, events=["alert.firing", "alert.resolved", "alert.firing"])
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert 24 <= len(base64.b64decode(secret.removeprefix("whsec_"))) <= 32
    assert created["events"] == ["alert.firing", "alert.resolved"]
    assert created["enabled"] is True and created["description"] == "on-call"
    endpoint = f"{HOOKS}/{created['id']}"
    answers = [
        client.get(HOOKS),
        client.get(endpoint),
        patch(client, endpoint, {"description": "changed"}),
        client.get(f"{endpoint}/deliveries"),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert secret not in answer.text and '"secret"' not in answer.text
    assert client.get(endpoint).json()["description"] == "changed"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": RECEIVER, "events": ["alert.fired"]}, "events.0"),
        ({"url": RECEIVER, "events": ["alert.firing", "model.deleted"]}, "events.1"),
        ({"url": RECEIVER, "events": []}, "events"),
        ({"url": "ftp://127.0.0.1/hook", "events": ["alert.firing"]}, "url"),
        ({"url": "127.0.0.1/hook", "events": ["alert.firing"]}, "url"),
        ({"url": "http://user:pw@127.0.0.1/hook", "events": ["alert.firing"]}, "url"),
        ({"url": "http://169.254.169.254/latest/meta-data/", "events": ["alert.firing"]}, "url"),
        ({"url": "http://10.1.2.3/hook", "events": ["alert.firing"]}, "url"),
        ({"url": "http://[fd00::1]/hook", "events": ["alert.firing"]}, "url"),
        ({"url": "http://127.0.0.1:99999/hook", "events": ["alert.firing"]}, "url"),
        ({"url": RECEIVER, "events": ["alert.firing"], "colour": "red"}, "colour"),
    ],
)
def test_an_invalid_endpoint_is_refused_naming_the_field(
    client: AppClient, body: dict[str, Any], field: str
) -> None:
    response = client.post(HOOKS, json=body)
    assert response.status_code == 422, response.text
    assert field in [error["field"] for error in response.json()["errors"]]
    assert client.get(HOOKS).json()["endpoints"] == []


def test_metadata_and_private_addresses_are_refused_with_how_to_allow_them(client: AppClient) -> None:
    response = client.post(HOOKS, json={"url": "http://169.254.169.254/", "events": ["alert.firing"]})
    message = response.json()["errors"][0]["message"]
    assert "169.254.169.254" in message and "link-local" in message
    assert "MODELMON_WEBHOOK_ALLOWED_NETWORKS" in message


@pytest.mark.slow
def test_a_name_resolving_to_loopback_is_refused_when_no_network_is_allowed(
    client_with: Callable[..., AppClient],
) -> None:
    strict = client_with(webhook_allowed_networks="")
    response = strict.post(HOOKS, json={"url": "http://localhost:8080/hook", "events": ["alert.firing"]})
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert error["field"] == "url"
    assert "'localhost' resolves to" in error["message"] and "loopback" in error["message"]


def test_an_allowed_network_admits_a_private_address(client_with: Callable[..., AppClient]) -> None:
    lenient = client_with(webhook_allowed_networks="10.0.0.0/8")
    assert (
        lenient.post(HOOKS, json={"url": "http://10.1.2.3/", "events": ["alert.firing"]}).status_code == 201
    )


def test_patch_checks_the_url_again_and_changes_what_it_is_given(client: AppClient) -> None:
    endpoint = f"{HOOKS}/{create(client)['id']}"
    refused = patch(client, endpoint, {"url": "http://192.168.1.10/"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "url"
    bad_event = patch(client, endpoint, {"events": ["alert.firing", "nope"]})
    assert bad_event.status_code == 422 and bad_event.json()["errors"][0]["field"] == "events.1"
    changed = patch(client, endpoint, {"enabled": False, "events": ["model.retrain_requested"]})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["url"] == RECEIVER and body["events"] == ["model.retrain_requested"]
    assert body["enabled"] is False and body["disabled_reason"] == "disabled through the API"
    enabled = patch(client, endpoint, {"enabled": True}).json()
    assert enabled["enabled"] is True and enabled["disabled_reason"] is None


def test_rotation_answers_a_new_secret_and_keeps_the_old_one_signing_for_a_day(client: AppClient) -> None:
    created = create(client)
    rotated = client.post(f"{HOOKS}/{created['id']}/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert body["secret"].startswith("whsec_") and body["secret"] != created["secret"]
    assert body["previous_secret_expires_at"] == "2026-11-23T12:00:00Z"
    shown = client.get(f"{HOOKS}/{created['id']}").text
    assert body["secret"] not in shown and created["secret"] not in shown


def test_unknown_ids_answer_404_everywhere(client: AppClient) -> None:
    known = create(client)["id"]
    cases: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", f"{HOOKS}/999", None),
        ("PATCH", f"{HOOKS}/999", {"description": "x"}),
        ("POST", f"{HOOKS}/999/rotate-secret", None),
        ("POST", f"{HOOKS}/999/test", None),
        ("GET", f"{HOOKS}/999/deliveries", None),
        ("POST", f"{HOOKS}/999/deliveries/1/redeliver", None),
        ("POST", f"{HOOKS}/{known}/deliveries/12345/redeliver", None),
    ]
    for method, url, body in cases:
        response = client.request(method, url, json=body)
        assert response.status_code == 404, (url, response.text)
        assert response.json()["error_count"] == 0


def test_a_test_event_is_queued_for_that_endpoint_only(client: AppClient) -> None:
    first, second = create(client)["id"], create(client)["id"]
    queued = client.post(f"{HOOKS}/{first}/test")
    assert queued.status_code == 202, queued.text
    delivery = queued.json()
    assert delivery["event_type"] == "webhook.test" and delivery["state"] == "pending"
    assert delivery["message_id"].startswith("msg_")
    assert delivery["payload"]["data"]["endpoint_id"] == first
    assert len(client.get(f"{HOOKS}/{first}/deliveries").json()["deliveries"]) == 1
    assert client.get(f"{HOOKS}/{second}/deliveries").json()["deliveries"] == []
    patch(client, f"{HOOKS}/{first}", {"enabled": False})
    assert client.post(f"{HOOKS}/{first}/test").status_code == 409


def test_deliveries_are_listed_newest_first_in_pages(client: AppClient) -> None:
    endpoint = f"{HOOKS}/{create(client)['id']}"
    ids = [client.post(f"{endpoint}/test").json()["id"] for _ in range(3)]
    page = client.get(f"{endpoint}/deliveries", params={"limit": 2}).json()
    assert [d["id"] for d in page["deliveries"]] == ids[::-1][:2]
    rest = client.get(f"{endpoint}/deliveries", params={"limit": 2, "before": page["next_before"]}).json()
    assert [d["id"] for d in rest["deliveries"]] == ids[:1] and rest["next_before"] is None
    assert client.get(f"{endpoint}/deliveries", params={"state": "dead"}).json()["deliveries"] == []
    assert client.get(f"{endpoint}/deliveries", params={"state": "lost"}).status_code == 422
