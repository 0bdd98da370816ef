"""Least privilege on webhooks: URLs without credentials and query values for read keys and
in the audit log; receivers' answers for admins only."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from service.webhooks.jobs import Deliverer
from service.webhooks.redact import redacted_url
from tests.asgi_client import AppClient
from tests.webhooks.receivers import Receiver

HOOKS = "/v1/webhooks"
TOKEN = "tok-9f8e7d6c5b4a"
ANSWER = b"receiver internals: build 41, retry with key rk-1234"


def _key(client: AppClient, role: str) -> dict[str, str]:
    response = client.post("/v1/keys", json={"role": role, "name": f"{role} reader"})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['key']}"}


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://hooks.example.com/in?token=abc&team=risk",
            "https://hooks.example.com/in?token=REDACTED&team=REDACTED",
        ),
        ("https://bot:pa55@hooks.example.com:8443/a/b#frag", "https://hooks.example.com:8443/a/b"),
        ("http://[::1]:9000/hook?t=%2Fx&flag", "http://[::1]:9000/hook?t=REDACTED&flag=REDACTED"),
        ("https://hooks.example.com/plain", "https://hooks.example.com/plain"),
    ],
)
def test_redacted_url_keeps_where_and_drops_secrets(url: str, shown: str) -> None:
    assert redacted_url(url) == shown


@pytest.mark.slow
def test_read_keys_see_webhook_urls_redacted_and_no_answers(
    client: AppClient, receivers: Callable[..., Receiver], deliverer: Callable[..., Deliverer]
) -> None:
    receiver = receivers(answer=ANSWER)
    url = f"{receiver.url}?token={TOKEN}&team=risk"
    created = client.post(HOOKS, json={"url": url, "events": ["alert.firing"]})
    assert created.status_code == 201 and created.json()["url"] == url
    hook = f"{HOOKS}/{created.json()['id']}"
    assert client.post(f"{hook}/test").status_code == 202
    assert deliverer().run_once() == 1
    read = _key(client, "read")
    shown = f"{receiver.url}?token=REDACTED&team=REDACTED"
    assert client.get(HOOKS, headers=read).json()["endpoints"][0]["url"] == shown
    assert client.get(hook, headers=read).json()["url"] == shown
    assert client.get(hook).json()["url"] == url  # the admin sees what it configured
    (delivery,) = client.get(f"{hook}/deliveries", headers=read).json()["deliveries"]
    assert delivery["state"] == "delivered" and delivery["attempts"][0]["status_code"] == 200
    assert delivery["attempts"][0]["response_excerpt"] is None
    (full,) = client.get(f"{hook}/deliveries").json()["deliveries"]
    assert full["attempts"][0]["response_excerpt"] == ANSWER.decode()
    for path in (HOOKS, hook, f"{hook}/deliveries"):
        assert TOKEN not in client.get(path, headers=_key(client, "export")).text


def test_the_audit_log_keeps_webhook_urls_redacted(client: AppClient) -> None:
    first = f"http://127.0.0.1:9/hook?token={TOKEN}"
    created = client.post(HOOKS, json={"url": first, "events": ["alert.firing"]}).json()
    second = "http://127.0.0.1:9/other?sig=zz-secret-2"
    changed = client.request("PATCH", f"{HOOKS}/{created['id']}", json={"url": second})
    assert changed.status_code == 200 and changed.json()["url"] == second
    events = client.get("/v1/audit", params={"target_type": "webhook"}).json()["events"]
    assert [e["action"] for e in events] == ["webhook.changed", "webhook.created"]
    change, creation = events
    assert creation["after"]["url"] == "http://127.0.0.1:9/hook?token=REDACTED"
    assert change["before"]["url"] == "http://127.0.0.1:9/hook?token=REDACTED"
    assert change["after"]["url"] == "http://127.0.0.1:9/other?sig=REDACTED"
    text = client.get("/v1/audit").text
    assert TOKEN not in text and "zz-secret-2" not in text
