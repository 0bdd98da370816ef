"""The demo's webhook receiver over real HTTP: signatures verified, repeats kept once."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import orjson
import pytest
from standardwebhooks import Webhook

from service.demo.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    inbox = Receiver()
    yield inbox
    inbox.close()


def _secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _send(receiver: Receiver, secret: str, message_id: str, body: bytes, url: str | None = None) -> int:
    signature = Webhook(secret).sign(message_id, datetime.now(UTC), body.decode())
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(datetime.now(UTC).timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }
    return httpx.post(url or receiver.url, content=body, headers=headers, timeout=5).status_code


EVENT = orjson.dumps(
    {"type": "alert.firing", "timestamp": "2026-11-22T12:00:00Z", "data": {"alert": {"id": 1}}}
)


@pytest.mark.slow
def test_a_signed_event_is_kept_once(receiver: Receiver) -> None:
    secret = _secret()
    receiver.trust(secret)
    assert _send(receiver, secret, "msg_1", EVENT) == 204
    assert _send(receiver, secret, "msg_1", EVENT) == 204  # a retry of the same message
    assert receiver.counts() == {"alert.firing": 1}
    assert receiver.duplicates == 1
    kept = receiver.received()[0]
    assert kept.data == {"alert": {"id": 1}} and kept.body == EVENT and kept.headers["webhook-id"] == "msg_1"


@pytest.mark.slow
def test_a_wrong_signature_or_tampered_body_is_refused(receiver: Receiver) -> None:
    receiver.trust(_secret())
    assert _send(receiver, _secret(), "msg_2", EVENT) == 401  # signed with another secret
    tampered = httpx.post(
        receiver.url,
        content=EVENT.replace(b"firing", b"resolved"),
        headers={
            "webhook-id": "msg_3",
            "webhook-timestamp": str(int(datetime.now(UTC).timestamp())),
            "webhook-signature": Webhook(_secret()).sign("msg_3", datetime.now(UTC), EVENT.decode()),
        },
        timeout=5,
    )
    assert tampered.status_code == 401
    assert receiver.counts() == {} and receiver.rejected == 2


@pytest.mark.slow
def test_nothing_is_accepted_before_the_secret_is_known(receiver: Receiver) -> None:
    secret = _secret()
    assert _send(receiver, secret, "msg_4", EVENT) == 401
    receiver.trust(secret)
    assert _send(receiver, secret, "msg_4", EVENT) == 204
    assert receiver.counts() == {"alert.firing": 1}


@pytest.mark.slow
def test_other_paths_are_not_found(receiver: Receiver) -> None:
    secret = _secret()
    receiver.trust(secret)
    elsewhere = receiver.url.replace("/hooks/modelmon", "/other")
    assert _send(receiver, secret, "msg_5", EVENT, url=elsewhere) == 404
    assert receiver.counts() == {}
