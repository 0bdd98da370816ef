"""The asyncio client against a real `modelmon serve`: delivery from the loop and from worker
threads, a loop that keeps running while the server hangs, and the send at interpreter exit."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from service.client import AsyncMonitor, Counters
from service.client.records import RecordId
from tests.auth import TEST_ADMIN_KEY
from tests.client.live import HangingServer, LiveServer
from tests.factories import features

pytestmark = pytest.mark.slow

REPOSITORY = Path(__file__).resolve().parents[2]


def _log_from_a_thread(monitor: AsyncMonitor, start: int) -> list[RecordId]:
    return [monitor.log_prediction(features(i), i % 2, id=f"thread-{i}") for i in range(start, start + 200)]


async def _deliver(url: str) -> tuple[list[RecordId], list[RecordId], Counters]:
    async with AsyncMonitor(
        url, TEST_ADMIN_KEY, model="async", batch_size=100, flush_interval=0.05
    ) as monitor:
        ids = [monitor.log_prediction(features(i), i % 2, score=0.4) for i in range(600)]
        batches = await asyncio.gather(*(asyncio.to_thread(_log_from_a_thread, monitor, s) for s in (0, 200)))
        ids += [pid for batch in batches for pid in batch]
        labelled = ids[:300]
        monitor.log_outcomes({"prediction_id": pid, "label": 1} for pid in labelled)
        assert await monitor.flush(timeout=20)
    return ids, labelled, monitor.counters


def test_the_async_monitor_delivers_every_record_once(server: LiveServer) -> None:
    server.register("async")
    ids, labelled, counters = asyncio.run(_deliver(server.url))
    assert (counters.sent, counters.queued, counters.rejected, counters.invalid) == (1300, 0, 0, 0)
    stored = server.stored("predictions", "async")
    assert len(stored) == 1000 and sorted(stored) == sorted(map(str, ids))
    assert sorted(server.stored("outcomes", "async")) == sorted(map(str, labelled))
    assert server.counts("async")["outcomes_joined"] == 300


async def _against_a_hanging_server(url: str) -> tuple[float, float, Counters]:
    """(p99 of log_prediction, worst lag of a 10 ms ticker on the same loop, counters)."""
    monitor = AsyncMonitor(
        url, TEST_ADMIN_KEY, model="async", batch_size=50, flush_interval=0.01, timeout=0.5
    )
    lags: list[float] = []

    async def ticker() -> None:
        for _ in range(50):
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - before - 0.01)

    await monitor.start()
    await asyncio.sleep(0.3)  # start-up (the HTTP client is built in a thread) is not measured
    ticking = asyncio.create_task(ticker())
    took = []
    for i in range(5000):
        start = time.perf_counter()
        monitor.log_prediction(features(i), 1)
        took.append(time.perf_counter() - start)
        if i % 100 == 0:
            await asyncio.sleep(0)  # a server handling requests yields to the loop
    await ticking
    closed = await monitor.aclose(timeout=0.2)
    assert not closed
    took.sort()
    return took[int(0.99 * len(took))], max(lags), monitor.counters


def test_log_never_waits_for_a_server_that_hangs() -> None:
    hanging = HangingServer()
    try:
        p99, lag, counters = asyncio.run(_against_a_hanging_server(hanging.url))
    finally:
        hanging.close()
    print(
        f"\nAsyncMonitor.log_prediction p99, server hanging: {p99 * 1e6:.1f} µs; loop lag {lag * 1e3:.1f} ms"
    )
    assert p99 < 0.002
    assert lag < 0.1  # the loop kept turning while the sending task waited on the network
    assert (counters.sent, counters.queued, counters.dropped_on_close) == (0, 0, 5000)


EXIT_SCRIPT = """
import asyncio
from service.client import AsyncMonitor
from tests.factories import features

async def main():
    monitor = AsyncMonitor({url!r}, {key!r}, model="async-exit", flush_interval=60)
    for i in range(200):
        monitor.log_prediction(features(i), 1, id=f"exit-{{i}}")
    print(monitor.counters.queued)
    # returns without aclose(): the loop ends, the interpreter's exit sends what is queued

asyncio.run(main())
"""


def test_records_left_when_the_loop_ends_are_sent_at_exit(server: LiveServer) -> None:
    server.register("async-exit")
    script = EXIT_SCRIPT.format(url=server.url, key=TEST_ADMIN_KEY)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.strip() == "200", done.stderr
    assert sorted(server.stored("predictions", "async-exit")) == sorted(f"exit-{i}" for i in range(200))


def test_a_monitor_used_in_a_second_event_loop_sends_there(server: LiveServer) -> None:
    server.register("two-loops")
    monitor = AsyncMonitor(server.url, TEST_ADMIN_KEY, model="two-loops", batch_size=10, flush_interval=0.05)

    async def log(prefix: str) -> bool:
        for i in range(25):
            monitor.log_prediction(features(i), 1, id=f"{prefix}-{i}")
        return await monitor.flush(timeout=20)

    assert asyncio.run(log("first"))
    assert asyncio.run(log("second")), "the second loop's records were never sent"
    asyncio.run(monitor.aclose())
    assert len(server.stored("predictions", "two-loops")) == 50
    assert monitor.counters.sent == 50


def test_the_sending_task_ends_when_its_loop_ends_just_after_a_flush() -> None:
    """``flush()`` wakes the sending task and returns; ``asyncio.run`` then cancels the task in
    the same turn of the loop. On Python 3.11 a wait through ``asyncio.wait_for`` swallowed that
    cancellation and the task looped on, so ``asyncio.run`` never returned. Nothing is queued, so
    no server is needed (the address refuses connections and is never called)."""
    monitor = AsyncMonitor("http://127.0.0.1:9", TEST_ADMIN_KEY, model="race", flush_interval=0.05)

    async def wake_and_leave() -> None:
        await monitor.start()
        await asyncio.sleep(0.3)  # the task has its HTTP client and waits for a wake-up
        await monitor.flush(timeout=0)  # sets the wake-up; nothing held: returns at once

    def run() -> None:
        for _ in range(20):  # the race is decided in one turn of the loop: make it certain
            asyncio.run(wake_and_leave())

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(timeout=60)
    assert not runner.is_alive(), "asyncio.run did not return: the sending task ignored its cancellation"
