"""The database goes away during ingestion: 503 with Retry-After, nothing half-written, and
the client's retry stored exactly once (Postgres through tests/faults/proxy.py).

Batches of 10 go through ``INSERT … RETURNING``, batches of 100 through COPY
(``COPY_THRESHOLD`` is 50), so both write paths meet every fault.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.asgi_client import AppClient
from tests.factories import outcome, prediction, registration
from tests.faults.conftest import Stored
from tests.faults.proxy import FaultProxy

pytestmark = pytest.mark.postgres

KINDS = ["predictions", "outcomes"]
SIZES = [10, 100]


def _batch(kind: str, prefix: str, size: int) -> tuple[dict[str, Any], list[str]]:
    if kind == "predictions":
        records = [prediction(i, prefix=prefix) for i in range(size)]
        return {"predictions": records}, [r["id"] for r in records]
    records = [outcome(i, prefix=prefix) for i in range(size)]
    return {"outcomes": records}, [r["prediction_id"] for r in records]


def _count(stored: Stored, kind: str, ids: list[str]) -> int:
    return stored.predictions(ids) if kind == "predictions" else stored.outcomes(ids)


def _post(client: AppClient, kind: str, body: dict[str, Any]) -> Any:
    return client.post(f"/v1/models/credit/{kind}", json=body)


def _registered(client: AppClient, kind: str, prefixes: list[str], size: int) -> None:
    """The model, and for outcome tests the predictions they join."""
    assert client.post("/v1/models", json=registration()).status_code == 201
    if kind == "outcomes":
        for prefix in prefixes:
            assert _post(client, "predictions", _batch("predictions", prefix, size)[0]).status_code == 200


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("kind", KINDS)
def test_an_unreachable_database_answers_503_and_the_retry_is_stored_once(
    proxied_client: AppClient, proxy: FaultProxy, stored: Stored, kind: str, size: int
) -> None:
    _registered(proxied_client, kind, ["r-"], size)
    body, ids = _batch(kind, "r-", size)
    proxy.refuse()  # the open connections are cut too: the server is down
    for _ in range(2):
        refused = _post(proxied_client, kind, body)
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "5"
        assert refused.json()["detail"] == "the database is unavailable; nothing was stored — retry later"
    assert _count(stored, kind, ids) == 0
    proxy.restore()
    retried = _post(proxied_client, kind, body)
    assert retried.status_code == 200, retried.text
    assert (retried.json()["accepted"], retried.json()["duplicates"]) == (size, 0)
    resent = _post(proxied_client, kind, body)
    assert (resent.json()["accepted"], resent.json()["duplicates"]) == (0, size)
    assert _count(stored, kind, ids) == size


def _offsets(total: int) -> list[int]:
    """Where to cut: in the first bytes (the pool's ping), at 32 points spread over the
    request's ``total`` client bytes, and in its last message (the COMMIT)."""
    spread = [max(1, total * k // 32) for k in range(1, 32)]
    return sorted({1, 2, 3, 5, 8, 13, 21, 34, 55, 89, *spread, total - 20, total - 5, total - 1})


def _retry_until_stored(client: AppClient, kind: str, body: dict[str, Any]) -> Any:
    for _ in range(5):
        response = _post(client, kind, body)
        if response.status_code == 200:
            return response.json()
    raise AssertionError(f"no 200 after 5 retries: {response.status_code} {response.text}")


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("kind", KINDS)
def test_a_connection_cut_at_any_byte_of_a_batch_stores_all_of_it_or_nothing(
    proxied_client: AppClient, proxy: FaultProxy, stored: Stored, kind: str, size: int
) -> None:
    prefixes = [f"c{n:03d}-" for n in range(60)]
    _registered(proxied_client, kind, prefixes, size)
    before = proxy.client_bytes
    body, ids = _batch(kind, prefixes[0], size)
    assert _post(proxied_client, kind, body).status_code == 200
    offsets = _offsets(proxy.client_bytes - before)
    outcomes: dict[str, int] = {"503, nothing stored": 0, "503, committed": 0, "200": 0}
    for offset, prefix in zip(offsets, prefixes[1:], strict=False):
        body, ids = _batch(kind, prefix, size)
        proxy.cut_after(offset)
        response = _post(proxied_client, kind, body)
        not_cut = proxy.disarm()
        stored.settle()
        count = _count(stored, kind, ids)
        assert count in (0, size), f"cut at byte {offset}: {count} of {size} stored"
        if response.status_code == 200:
            assert count == size and response.json()["accepted"] == size
            outcomes["200"] += 1
            continue
        assert response.status_code == 503 and not not_cut, f"cut at byte {offset}: {response.text}"
        assert response.headers["retry-after"] == "5"
        outcomes["503, committed" if count else "503, nothing stored"] += 1
        retried = _retry_until_stored(proxied_client, kind, body)
        assert (retried["accepted"], retried["duplicates"]) == ((0, size) if count else (size, 0))
        assert _count(stored, kind, ids) == size
    assert outcomes["503, nothing stored"] >= len(offsets) // 2, outcomes
    every = [i for prefix in prefixes[: len(offsets) + 1] for i in _batch(kind, prefix, size)[1]]
    assert _count(stored, kind, every) == len(every)


@pytest.mark.parametrize("kind", KINDS)
def test_a_commit_whose_answer_is_lost_is_stored_and_its_retry_counts_duplicates(
    proxied_client: AppClient, proxy: FaultProxy, stored: Stored, kind: str
) -> None:
    """The server committed and the connection ended before its "COMMIT" reached the service:
    the client gets a 503 for a stored batch, and its retry is answered "all duplicates"."""
    _registered(proxied_client, kind, ["l-"], 100)
    body, ids = _batch(kind, "l-", 100)
    proxy.cut_before_reply(b"COMMIT\x00")  # the CommandComplete message's tag
    lost = _post(proxied_client, kind, body)
    assert lost.status_code == 503 and not proxy.disarm()
    stored.settle()
    assert _count(stored, kind, ids) == 100
    retried = _retry_until_stored(proxied_client, kind, body)
    assert (retried["accepted"], retried["duplicates"]) == (0, 100)
    assert _count(stored, kind, ids) == 100
