"""One deadline per delivery attempt: a receiver that drips its answer one byte at a time
cannot hold an attempt past the timeout (httpx alone restarts its read timeout per byte)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from service.clock import system_clock
from service.webhooks.delivery import Claim, attempt, build_client
from service.webhooks.netguard import Guard

SECRET = "whsec_" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
DRIP_SECONDS = 0.5
TIMEOUT_SECONDS = 1.5
HEADERS_FIRST = b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n"


def _drip(connection: socket.socket, prefix: bytes, stop: threading.Event) -> None:
    """Read the request, send ``prefix`` at once, then one byte every ``DRIP_SECONDS`` for
    up to 10 s (so that without a deadline the test fails instead of hanging)."""
    with connection:
        connection.settimeout(10)
        connection.recv(65536)
        connection.sendall(prefix)
        for _ in range(int(10 / DRIP_SECONDS)):
            if stop.wait(DRIP_SECONDS):
                return
            try:
                connection.sendall(b"H" if not prefix else b"x")
            except OSError:
                return


@pytest.fixture(params=["in the status line", "in the body"])
def dripping_url(request: pytest.FixtureRequest) -> Iterator[str]:
    prefix = b"" if request.param == "in the status line" else HEADERS_FIRST
    stop = threading.Event()
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(10)

        def serve() -> None:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            _drip(connection, prefix, stop)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.getsockname()[1]}/hook"
        stop.set()
        thread.join(timeout=5)


@pytest.mark.slow
def test_a_dripping_receiver_is_cut_off_at_the_deadline(dripping_url: str) -> None:
    guard = Guard.from_cidrs(["127.0.0.0/8"])
    claim = Claim(1, 1, "msg_deadline", dripping_url, b"{}", (SECRET,), 0, datetime(2026, 11, 22, tzinfo=UTC))
    with build_client(guard, TIMEOUT_SECONDS, 1) as client:
        started = time.monotonic()
        now = system_clock
        result = attempt(client, claim, guard=guard, timeout=TIMEOUT_SECONDS, clock=now, signing_clock=now)
        elapsed = time.monotonic() - started
    # Each byte comes within DRIP_SECONDS, so only a deadline for the whole exchange ends it;
    # 0.5 s of margin for a loaded machine, far below the 10 s the drip would otherwise last.
    assert elapsed < TIMEOUT_SECONDS + 0.5
    assert result.status_code is None
    assert result.error is not None and result.error.startswith("ReadTimeout")
