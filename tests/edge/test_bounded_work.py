"""Work one request can cause is bounded: errors kept, and the collector held back only while
a batch is handled."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable

from service.edge.collector import collection_deferred
from service.ingestion.validation import Checker
from tests import factories
from tests.asgi_client import AppClient

URL = "/v1/models/credit/predictions"


def test_at_most_max_errors_listed_are_listed_and_all_are_counted(
    client_with: Callable[..., AppClient],
) -> None:
    client = client_with(max_errors_listed=50)
    client.post("/v1/models", json=factories.registration())
    batch = factories.predictions(0, 2000, score=7, prediction="maybe", attributes={"planet": "mars"})
    response = client.post(URL, json=batch)
    assert response.status_code == 422
    body = response.json()
    assert len(body["errors"]) == 50
    assert body["error_count"] == 6000
    assert body["detail"] == "2000 of 2000 records are invalid; nothing was stored"
    assert client.get("/v1/models/credit").json()["counts"]["predictions"] == 0


def test_unknown_top_level_fields_are_counted_not_all_listed(client_with: Callable[..., AppClient]) -> None:
    client = client_with(max_errors_listed=10)
    client.post("/v1/models", json=factories.registration())
    body = {f"field_{i:05d}": i for i in range(20_000)}
    response = client.post(URL, json=body)
    assert response.status_code == 422
    assert response.json()["error_count"] == 20_001
    assert [error["field"] for error in response.json()["errors"]][:2] == ["predictions", "field_00000"]
    assert len(response.json()["errors"]) == 10


def test_a_checker_keeps_its_limit_of_errors_and_counts_records() -> None:
    checker = Checker([], limit=3)
    for index in range(1000):
        checker.fail(index, "a", "bad")
        checker.fail(index, "b", "bad")
    assert len(checker.errors) == 3
    assert (checker.count, checker.bad_records) == (2000, 1000)


def test_collection_is_deferred_while_any_batch_is_handled() -> None:
    assert gc.isenabled()
    inside = threading.Event()
    release = threading.Event()

    def other_batch() -> None:
        with collection_deferred():
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=other_batch)
    with collection_deferred():
        assert not gc.isenabled()
        thread.start()
        inside.wait(10)
    assert not gc.isenabled(), "another batch is still in memory"
    release.set()
    thread.join()
    assert gc.isenabled()
