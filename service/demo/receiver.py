"""A local webhook receiver: what a retraining pipeline or an on-call bridge would run.

It listens on loopback, verifies every request's Standard Webhooks signature with the
``standardwebhooks`` package (the secret is the one ``POST /v1/webhooks`` answered once),
answers 401 to a bad one (modelmon then retries, as it would against a real receiver) and
keeps each verified event once, deduplicated on ``webhook-id`` as docs/webhooks.md asks.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

MAX_BODY_BYTES = 1 << 20
PATH = "/hooks/modelmon"


@dataclass(frozen=True, slots=True)
class Received:
    message_id: str
    type: str
    data: dict[str, Any]
    at: float  # time.time() when it arrived
    body: bytes  # as signed, with the headers that carried the signature
    headers: dict[str, str]


class Receiver:
    """A threaded HTTP server on 127.0.0.1 with the events it verified."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._verifier: Webhook | None = None
        self.events: list[Received] = []
        self.duplicates = 0
        self.rejected = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        # serve_forever checks for shutdown every poll interval: 0.05 s instead of the default 0.5 s,
        # so stopping the receiver takes no longer than a blink.
        self._thread = threading.Thread(
            target=self.server.serve_forever, args=(0.05,), name="demo-receiver", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{PATH}"

    def trust(self, secret: str) -> None:
        """Verify with ``secret`` from now on (until then every request is refused)."""
        with self._lock:
            self._verifier = Webhook(secret)

    def accept(self, body: bytes, headers: dict[str, str]) -> int:
        """The status to answer: 204 for a verified event (kept once), 401 otherwise."""
        with self._lock:
            verifier = self._verifier
        if verifier is None:
            self.rejected += 1
            return 401
        try:
            event = verifier.verify(body, headers)
        except WebhookVerificationError:
            with self._lock:
                self.rejected += 1
            return 401
        message_id = headers.get("webhook-id", "")
        with self._lock:
            if any(e.message_id == message_id for e in self.events):
                self.duplicates += 1  # a retry or redelivery: handled already
            else:
                kept = Received(message_id, str(event["type"]), event["data"], time.time(), body, headers)
                self.events.append(kept)
        return 204

    def received(self) -> list[Received]:
        with self._lock:
            return list(self.events)

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(e.type for e in self.events)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if self.path != PATH or length > MAX_BODY_BYTES:
                self.send_response(404 if self.path != PATH else 413)
                self.end_headers()
                return
            body = self.rfile.read(length)
            status = receiver.accept(body, {k.lower(): v for k, v in self.headers.items()})
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass  # the demo prints its own summary; a line per request would bury it

    return Handler
