"""The importer's sender over real HTTP: 429 and 503 retried as the server asks, a data
refusal raised at once, an unreachable server given up on after the retries."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pyarrow as pa
import pytest

from service.importer.sender import GaveUp, Refused, Sender
from tests.live import free_port

TABLE = pa.table({"id": ["a", "b"], "score": [0.1, 0.2]})


class Scripted(BaseHTTPRequestHandler):
    """Answers each POST with the next (status, headers, body) of the server's script."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        script: list[tuple[int, dict[str, str], bytes]] = self.server.script  # type: ignore[attr-defined]
        self.server.bodies.append(self.headers["content-type"])  # type: ignore[attr-defined]
        status, headers, body = script.pop(0)
        self.send_response(status)
        for name, value in {**headers, "content-length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    http = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    http.script = []  # type: ignore[attr-defined]
    http.bodies = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield http
    http.shutdown()
    http.server_close()


def _sender(server: ThreadingHTTPServer, waits: list[float], body_format: str = "parquet") -> Sender:
    url = f"http://127.0.0.1:{server.server_address[1]}/v1/models/m/predictions"
    return Sender(httpx.Client(), url, body_format, retries=3, sleep=waits.append)


def test_busy_and_unavailable_answers_are_retried_as_the_server_asks(server: ThreadingHTTPServer) -> None:
    done = json.dumps({"accepted": 2, "duplicates": 0}).encode()
    server.script += [(429, {"retry-after": "7"}, b"{}"), (503, {}, b"{}"), (200, {}, done)]  # type: ignore[attr-defined]
    waits: list[float] = []
    sender = _sender(server, waits, "arrow")
    assert sender.send(TABLE) == {"accepted": 2, "duplicates": 0}
    assert waits == [7.0, 1.0]  # Retry-After, then the second step of 0.5 s × 2^attempt
    assert sender.retried == 2
    assert server.bodies == ["application/vnd.apache.arrow.stream"] * 3  # type: ignore[attr-defined]


def test_a_data_refusal_is_raised_at_once_with_its_errors(server: ThreadingHTTPServer) -> None:
    errors = [{"index": 1, "field": "score", "message": "outside [0, 1]"}]
    body = json.dumps({"detail": "1 of 2 records are invalid", "errors": errors}).encode()
    server.script.append((422, {}, body))  # type: ignore[attr-defined]
    waits: list[float] = []
    with pytest.raises(Refused) as refused:
        _sender(server, waits).send(TABLE)
    assert refused.value.status == 422 and refused.value.errors == errors
    assert waits == []


def test_an_unreachable_server_is_given_up_on_after_the_retries() -> None:
    waits: list[float] = []
    url = f"http://127.0.0.1:{free_port()}/v1/models/m/predictions"
    with pytest.raises(GaveUp) as gave_up:
        Sender(httpx.Client(), url, "parquet", retries=3, sleep=waits.append).send(TABLE)
    assert gave_up.value.attempts == 4 and "ConnectError" in gave_up.value.last
    assert waits == [0.5, 1.0, 2.0]
