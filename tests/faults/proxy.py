"""A TCP proxy on loopback that puts database faults between the service and Postgres.

The service's database URL points at the proxy, which forwards every connection to the real
server. Four faults, each what a client of a real Postgres sees:

- ``refuse()``: the listening socket is closed, so new connections are refused (the server
  is down); ``cut=True`` also closes every open connection (the server went down).
- ``cut_all()``: every open connection is closed on both sides — a restart, as a client
  sees it: the socket ends, the server rolls back whatever transaction it held.
- ``cut_after(n)``: forward ``n`` more bytes from clients (any connection), then cut all —
  a restart that lands at byte ``n`` of a transaction, possibly inside a message.
- ``cut_before_reply(marker)``: cut all instead of forwarding the next server reply holding
  ``marker`` — e.g. ``b"COMMIT\\x00"``: the server committed, the client never hears of it.

The server never sees anything the proxy did not forward, so a cut message is incomplete
for Postgres too and the transaction it belonged to is rolled back, unless its COMMIT had
fully passed.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType

CHUNK_BYTES = 65_536


class _Pair:
    """One client connection and its upstream connection."""

    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.client = client
        self.server = server
        self._closed = False
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):  # already shut by the other side
                sock.shutdown(socket.SHUT_RDWR)  # wakes the pump blocked in recv()
            sock.close()


class FaultProxy:
    """Forward ``127.0.0.1:<port>`` to ``upstream``; see the module docstring for the faults."""

    def __init__(self, upstream: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.upstream = upstream
        self.client_bytes = 0  # bytes forwarded from clients to the server, in total
        self.connections = 0  # connections accepted, in total
        self._lock = threading.Lock()
        self._pairs: set[_Pair] = set()
        self._budget: int | None = None
        self._marker: bytes | None = None
        self._listening = True
        self._closed = False
        self._listener: socket.socket | None = self._listen(0)
        self.port: int = self._listener.getsockname()[1]
        self._settled = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ faults

    def refuse(self, *, cut: bool = True) -> None:
        """Refuse new connections from now on; with ``cut``, close the open ones too."""
        self._set_listening(False)
        if cut:
            self.cut_all()

    def restore(self) -> None:
        """Accept connections again, on the same port."""
        self._set_listening(True)

    def cut_all(self) -> int:
        """Close every open connection on both sides; the number closed."""
        with self._lock:
            pairs, self._pairs = self._pairs, set()
            self._budget = self._marker = None
        for pair in pairs:
            pair.close()
        return len(pairs)

    def cut_after(self, n: int) -> None:
        """Forward ``n`` more client bytes (over all connections), then cut every connection."""
        with self._lock:
            self._budget = n

    def cut_before_reply(self, marker: bytes) -> None:
        """Cut every connection instead of forwarding the next server reply holding ``marker``."""
        with self._lock:
            self._marker = marker

    def disarm(self) -> bool:
        """Cancel a ``cut_after`` or ``cut_before_reply``; whether one was still waiting."""
        with self._lock:
            armed = self._budget is not None or self._marker is not None
            self._budget = self._marker = None
            return armed

    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        self._closed = True
        self._thread.join(timeout=5)
        self.cut_all()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    @staticmethod
    def _listen(port: int) -> socket.socket:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
        listener.settimeout(0.02)  # the accept loop looks at its flags this often
        return listener

    def _set_listening(self, listening: bool) -> None:
        self._settled.clear()
        self._listening = listening
        if not self._settled.wait(timeout=5):
            raise RuntimeError("the proxy's accept loop did not answer")

    def _accept_loop(self) -> None:
        while not self._closed:
            if self._listening and self._listener is None:
                self._listener = self._listen(self.port)
            elif not self._listening and self._listener is not None:
                self._listener.close()
                self._listener = None
            self._settled.set()
            if self._listener is None:
                time.sleep(0.02)
                continue
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self._connect(client)
        if self._listener is not None:
            self._listener.close()

    def _connect(self, client: socket.socket) -> None:
        client.settimeout(None)
        try:
            server = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            client.close()
            return
        server.settimeout(None)
        pair = _Pair(client, server)
        with self._lock:
            self._pairs.add(pair)
            self.connections += 1
        threading.Thread(target=self._pump, args=(pair, client, server, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(pair, server, client, False), daemon=True).start()

    def _pump(self, pair: _Pair, source: socket.socket, target: socket.socket, from_client: bool) -> None:
        try:
            while chunk := source.recv(CHUNK_BYTES):
                chunk, cut = self._spend(chunk) if from_client else self._reply(chunk)
                target.sendall(chunk)
                if cut:
                    self.cut_all()
                    return
        except OSError:
            pass
        with self._lock:
            self._pairs.discard(pair)
        pair.close()

    def _reply(self, chunk: bytes) -> tuple[bytes, bool]:
        """A server reply: withheld, and everything cut, if it holds the armed marker."""
        with self._lock:
            if self._marker is not None and self._marker in chunk:
                return b"", True
            return chunk, False

    def _spend(self, chunk: bytes) -> tuple[bytes, bool]:
        """The part of ``chunk`` to forward, and whether the budget is spent after it."""
        with self._lock:
            if self._budget is None:
                self.client_bytes += len(chunk)
                return chunk, False
            allowed = chunk[: self._budget]
            self._budget -= len(allowed)
            self.client_bytes += len(allowed)
            return allowed, self._budget == 0
