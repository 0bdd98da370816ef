"""A webhook receiver on loopback that verifies every signature (Standard Webhooks) and
records the answers it gave per ``webhook-id``; it can be taken down (503, or its port
closed) and brought back on the same port."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook


class SignedReceiver:
    """Signed webhooks on loopback: verifies each one and counts 2xx answers per webhook-id."""

    def __init__(self) -> None:
        self.secret = ""
        self.mode = "up"  # "up", "503" or "refuse" (the port is closed)
        self.answered: dict[str, list[int]] = {}
        self.bad_signatures = 0
        self.lock = threading.Lock()
        self.server = self._serve(0)
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def _serve(self, port: int) -> ThreadingHTTPServer:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = receiver.receive(body, {k.lower(): v for k, v in self.headers.items()})
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return server

    def receive(self, body: bytes, headers: dict[str, str]) -> int:
        try:
            Webhook(self.secret).verify(body, headers)
        except Exception:  # any verification failure is a bad signature
            with self.lock:
                self.bad_signatures += 1
            return 400
        status = 503 if self.mode == "503" else 204
        with self.lock:
            self.answered.setdefault(headers["webhook-id"], []).append(status)
        return status

    def down(self, mode: str) -> None:
        self.mode = mode
        if mode == "refuse":
            self.close()

    def up(self) -> None:
        if self.mode == "refuse":
            self.server = self._serve(self.port)
        self.mode = "up"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
