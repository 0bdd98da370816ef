"""Postgres restarts while clients ingest steadily: a live `modelmon serve` (its own process,
uvicorn) whose every connection the proxy cuts twice. The service recovers by itself
(``pool_pre_ping`` and the pool's invalidation on disconnect) and what the clients were told
was stored is exactly what is stored."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from tests.auth import AUTH_HEADERS
from tests.factories import outcome, prediction, registration
from tests.faults.clients import Ledger, post_until_stored
from tests.faults.conftest import Stored
from tests.faults.proxy import FaultProxy
from tests.live import serve

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

# The clients retry after this long instead of the 5 s Retry-After, to time the recovery
# to a tenth of a second.
RETRY_PAUSE_SECONDS = 0.1
RECOVERY_BOUND_SECONDS = 10.0


def _client(base: str, thread: int, size: int, stop: threading.Event, ledger: Ledger) -> None:
    """Batches of ``size`` predictions, each followed by its outcomes, until ``stop``."""
    with httpx.Client(base_url=base, headers=AUTH_HEADERS, timeout=30) as http:
        batch = 0
        while not stop.is_set():
            prefix = f"t{thread}b{batch}-"
            ids = [f"{prefix}{i}" for i in range(size)]
            try:
                for kind, body in (
                    ("predictions", {"predictions": [prediction(i, prefix=prefix) for i in range(size)]}),
                    ("outcomes", {"outcomes": [outcome(i, prefix=prefix) for i in range(size)]}),
                ):
                    path = f"/v1/models/credit/{kind}"
                    ledger.confirm(
                        kind, ids, post_until_stored(http, path, body, ledger, RETRY_PAUSE_SECONDS)
                    )
            except RuntimeError as error:  # a 500 or a 4xx: checked at the end
                ledger.failures.append(str(error))
                return
            batch += 1


def _recovery(ledger: Ledger, cut_at: float) -> float:
    """Seconds from the cut to the first 200 of a request sent after it."""
    with ledger.lock:
        answered = [a.sent + a.seconds for a in ledger.attempts if a.sent >= cut_at and a.outcome == "200"]
    return min(answered) - cut_at if answered else float("inf")


def _cut_twice(proxy: FaultProxy, ledger: Ledger) -> tuple[list[int], list[float]]:
    """Cut every connection twice, 2 s apart from the recovery; (connections cut, recoveries)."""
    cut, recoveries = [], []
    for _ in range(2):
        time.sleep(2.0)
        cut_at = time.monotonic()
        cut.append(proxy.cut_all())
        deadline = cut_at + RECOVERY_BOUND_SECONDS
        while _recovery(ledger, cut_at) == float("inf") and time.monotonic() < deadline:
            time.sleep(0.05)
        recoveries.append(_recovery(ledger, cut_at))
    return cut, recoveries


def test_the_service_recovers_from_two_restarts_under_load_without_losing_or_doubling(
    proxied_url: str, proxy: FaultProxy, stored: Stored, tmp_path: Path
) -> None:
    ledger, stop = Ledger(), threading.Event()
    with serve(proxied_url, tmp_path) as base:
        assert httpx.post(f"{base}/v1/models", json=registration(), headers=AUTH_HEADERS).status_code == 201
        threads = [
            threading.Thread(target=_client, args=(base, n, size, stop, ledger))
            for n, size in enumerate([10, 60, 100])  # INSERT and COPY paths
        ]
        for thread in threads:
            thread.start()
        try:
            cut, recoveries = _cut_twice(proxy, ledger)
            time.sleep(1.0)  # traffic goes on after the second recovery
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
    assert ledger.failures == []
    assert set(ledger.errors()) <= {"503"}, ledger.errors()  # never a 500 or a dropped request
    assert all(count >= 1 for count in cut), cut  # the server held connections and lost them
    assert all(seconds < RECOVERY_BOUND_SECONDS for seconds in recoveries), recoveries
    for kind, count in (("predictions", stored.predictions), ("outcomes", stored.outcomes)):
        confirmed = sorted(ledger.confirmed[kind])
        # A batch answered "duplicates" had an attempt whose COMMIT landed but whose answer was cut.
        told = ledger.accepted[kind] + ledger.duplicates_after_retry[kind]
        assert count(confirmed) == len(confirmed) == told > 0 and ledger.duplicates_first_time[kind] == 0
    with stored.engine.connect() as connection:
        totals = connection.execute(
            text("SELECT (SELECT count(*) FROM predictions), (SELECT count(*) FROM outcomes)")
        ).one()
    assert tuple(totals) == tuple(len(ledger.confirmed[kind]) for kind in ("predictions", "outcomes"))
