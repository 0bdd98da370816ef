"""Webhook signing secrets are encrypted at rest: the row holds no usable secret, deliveries
are still signed with it, and secrets stored before encryption are sealed by `migrate`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.webhooks.jobs import Deliverer
from service.webhooks.sealing import Sealer, UnreadableSecret, is_sealed, sealer_for
from tests.asgi_client import AppClient
from tests.webhooks.receivers import Receiver
from tests.webhooks.test_delivery import create, fire
from tests.windows.scenario import MutableClock

KEY = "kV3pX9qL2mZ7wR4tY8nB6cH1jF5gD0sA"


def _stored(database_url: str, endpoint_id: int) -> tuple[str, str | None]:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT secret, previous_secret FROM webhook_endpoints WHERE id = :id"), {"id": endpoint_id}
        ).one()
    engine.dispose()
    return row[0], row[1]


@pytest.mark.slow
def test_the_stored_secret_is_sealed_and_deliveries_are_signed_with_the_real_one(
    client: AppClient,
    database_url: str,
    sessions: sessionmaker[Session],
    clock: MutableClock,
    receivers: Callable[..., Receiver],
    deliverer: Callable[..., Deliverer],
) -> None:
    receiver = receivers()
    endpoint = create(client, receiver.url)
    stored, _ = _stored(database_url, endpoint["id"])
    assert is_sealed(stored) and endpoint["secret"] not in stored
    assert endpoint["secret"].removeprefix("whsec_") not in stored
    rotated = client.post(f"/v1/webhooks/{endpoint['id']}/rotate-secret").json()["secret"]
    current, previous = _stored(database_url, endpoint["id"])
    assert is_sealed(current) and previous is not None and is_sealed(previous)
    fire(sessions, clock, alert_id=1)
    assert deliverer().run_once() == 1
    [got] = receiver.received
    got.verify(rotated)  # both secrets sign during the overlap, each decrypted from its row
    got.verify(endpoint["secret"])


def test_a_sealed_secret_opens_only_with_its_key_and_on_its_endpoint() -> None:
    sealer = Sealer(KEY)
    sealed = sealer.seal("whsec_abc", 7)
    assert sealer.open(sealed, 7) == "whsec_abc"
    with pytest.raises(UnreadableSecret, match="endpoint 8"):
        sealer.open(sealed, 8)  # copied onto another endpoint's row
    with pytest.raises(UnreadableSecret, match="MODELMON_SECRET_KEY"):
        Sealer(KEY[::-1]).open(sealed, 7)
    assert sealer.seal("whsec_abc", 7) != sealed  # a fresh nonce each time


@pytest.mark.slow
def test_migrate_seals_secrets_stored_in_plaintext(client: AppClient, database_url: str) -> None:
    endpoint = create(client, "http://127.0.0.1:9/hook")
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE webhook_endpoints SET secret = :plain WHERE id = :id"),
            {"plain": endpoint["secret"], "id": endpoint["id"]},
        )
    engine.dispose()
    environment = {"MODELMON_DATABASE_URL": database_url, "MODELMON_SECRET_KEY": KEY, "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-m", "service", "migrate"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "encrypted the signing secrets of 1 webhook endpoints" in result.stderr
    stored, _ = _stored(database_url, endpoint["id"])
    assert is_sealed(stored)
    sealer = sealer_for(Settings(database_url=database_url, secret_key=KEY))
    assert sealer.open(stored, endpoint["id"]) == endpoint["secret"]


@pytest.mark.slow
def test_an_endpoint_whose_secret_does_not_decrypt_does_not_stop_the_others(
    client: AppClient,
    database_url: str,
    sessions: sessionmaker[Session],
    clock: MutableClock,
    receivers: Callable[..., Receiver],
    deliverer: Callable[..., Deliverer],
) -> None:
    healthy, orphaned = receivers(), receivers()
    create(client, healthy.url)
    lost = create(client, orphaned.url)
    engine = create_engine(database_url)
    with engine.begin() as connection:  # sealed under a key this service does not have
        foreign = Sealer(KEY).seal(lost["secret"], lost["id"])
        connection.execute(
            text("UPDATE webhook_endpoints SET secret = :s WHERE id = :id"), {"s": foreign, "id": lost["id"]}
        )
    engine.dispose()
    fire(sessions, clock, alert_id=2)
    assert deliverer().run_once() == 1
    assert len(healthy.delivered) == 1 and orphaned.received == []
    waiting = client.get(f"/v1/webhooks/{lost['id']}/deliveries").json()["deliveries"]
    assert [delivery["state"] for delivery in waiting] == ["pending"]
