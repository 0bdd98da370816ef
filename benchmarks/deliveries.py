"""Webhook delivery throughput: N messages to 100 loopback endpoints, one of them down.

A producer thread enqueues the messages (one transaction each, as the alerting job
does) while a `Deliverer.run_forever` worker sends them; 99 endpoints are threaded HTTP
servers on loopback that answer 204, the 100th is down — its port refuses connections
(`refused`) or accepts and never answers, so every attempt waits for the timeout
(`hang`). The clock ends when the 99 healthy endpoints have every message.

    python -m benchmarks.deliveries                       # 100 messages, SQLite, both variants
    python -m benchmarks.deliveries --messages 200 --databases sqlite postgres

Prints a progress line per run to stderr and the table to stdout. Latency is from the
commit of a message's transaction to its receipt by an endpoint.
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from benchmarks.common import postgres_database, progress
from service.clock import system_clock
from service.config import Settings
from service.storage.database import create_database_engine, create_session_factory, unit_of_work
from service.storage.migrations import upgrade
from service.storage.webhook_tables import WebhookDelivery, WebhookEndpoint
from service.webhooks.jobs import Deliverer
from service.webhooks.service import enqueue, new_secret


@dataclass(frozen=True)
class DeliveryRow:
    database: str
    down: str
    messages: int
    endpoints: int
    seconds: float
    deliveries_per_second: float
    p50_ms: float
    p99_ms: float
    retries_scheduled: int


class Receipts:
    """Receipt times by message id, shared by every healthy endpoint's server; ``counter``
    is read by the measuring process while the receivers run."""

    def __init__(self, counter: Any) -> None:
        self.lock = threading.Lock()
        self.counter = counter
        self.times: list[tuple[str, float]] = []

    def add(self, message_id: str) -> None:
        with self.lock:
            self.times.append((message_id, time.time()))
        with self.counter.get_lock():
            self.counter.value += 1


def _handler(receipts: Receipts) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real receivers

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            receipts.add(self.headers["webhook-id"])
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return Handler


def _serve(count: int, pipe: Connection, counter: Any) -> None:
    """The receivers' process: ``count`` servers until told to stop, then the receipts."""
    receipts = Receipts(counter)
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _handler(receipts)) for _ in range(count)]
    for server in servers:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
    pipe.send([f"http://127.0.0.1:{s.server_address[1]}/hook" for s in servers])
    pipe.recv()
    for server in servers:
        server.shutdown()
    pipe.send(receipts.times)


@dataclass
class Receivers:
    urls: list[str]
    counter: Any
    times: list[tuple[str, float]]


@contextmanager
def healthy_endpoints(count: int) -> Iterator[Receivers]:
    """Receivers in a process of their own, so their CPU is not the deliverer's (the
    measured process would otherwise share one GIL with ~100 server threads)."""
    ours, theirs = multiprocessing.Pipe()
    counter = multiprocessing.Value("i", 0)
    process = multiprocessing.Process(target=_serve, args=(count, theirs, counter), daemon=True)
    process.start()
    receivers = Receivers(ours.recv(), counter, [])
    try:
        yield receivers
    finally:
        ours.send("stop")
        receivers.times = ours.recv()
        process.join(10)


@contextmanager
def down_endpoint(kind: str) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        if kind == "hang":
            sock.listen(1024)  # the kernel completes handshakes; nobody ever reads
            yield f"http://127.0.0.1:{port}/hook"
            return
    yield f"http://127.0.0.1:{port}/hook"  # closed again: connections are refused


@contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite:///{Path(directory) / 'bench.db'}"
            upgrade(url)
            yield url
        return
    with postgres_database() as url:
        yield url


def _add_endpoints(settings: Settings, urls: list[str]) -> None:
    engine = create_database_engine(settings)
    now = datetime.now(UTC)
    with unit_of_work(create_session_factory(engine)) as session:
        for url in urls:
            endpoint = WebhookEndpoint(
                url=url, events=["alert.firing"], description="bench", secret=new_secret(),
                previous_secret=None, previous_expires_at=None, enabled=True, disabled_reason=None,
                created_at=now, updated_at=now,
            )  # fmt: skip
            session.add(endpoint)
    engine.dispose()


def _produce(deliverer: Deliverer, messages: int, committed: dict[str, float]) -> None:
    for n in range(messages):
        with unit_of_work(deliverer.sessions) as session:
            message = enqueue(session, event_type="alert.firing", data={"n": n}, now=system_clock())
            assert message is not None
        committed[message.message_id] = time.time()


def _retries(deliverer: Deliverer) -> int:
    query = select(func.count()).where(WebhookDelivery.state == "pending", WebhookDelivery.attempts > 0)
    with unit_of_work(deliverer.sessions) as session:
        return int(session.scalar(query.select_from(WebhookDelivery)) or 0)


def measure_delivery_throughput(
    *,
    messages: int = 100,
    endpoints: int = 100,
    down: str = "refused",
    database_kind: str = "sqlite",
    concurrency: int = 16,
    timeout_seconds: float = 5.0,
    max_seconds: float = 600.0,
) -> DeliveryRow:
    """Deliver ``messages`` to ``endpoints`` (one down: "refused" or "hang") and measure."""
    committed = dict[str, float]()
    with ExitStack() as stack:
        receivers = stack.enter_context(healthy_endpoints(endpoints - 1))
        url = stack.enter_context(database(database_kind))
        settings = Settings(
            database_url=url, run_jobs=False, webhook_concurrency=concurrency,
            http_timeout_seconds=timeout_seconds,
        )  # fmt: skip
        _add_endpoints(settings, [*receivers.urls, stack.enter_context(down_endpoint(down))])
        engine = create_database_engine(settings)
        stack.callback(engine.dispose)
        deliverer = stack.enter_context(Deliverer(create_session_factory(engine), settings, system_clock))
        stop = threading.Event()
        worker = threading.Thread(target=deliverer.run_forever, args=(stop,))
        started = time.time()
        worker.start()
        _produce(deliverer, messages, committed)
        expected = messages * (endpoints - 1)
        while receivers.counter.value < expected and time.time() - started < max_seconds:
            time.sleep(0.01)
        stop.set()
        worker.join()
        retries = _retries(deliverer)
    finished = max(t for _, t in receivers.times)
    latencies = sorted((t - committed[m]) * 1000 for m, t in receivers.times)
    seconds = finished - started
    return DeliveryRow(
        database=database_kind, down=down, messages=messages, endpoints=endpoints, seconds=seconds,
        deliveries_per_second=len(latencies) / seconds, p50_ms=statistics.median(latencies),
        p99_ms=latencies[int(0.99 * (len(latencies) - 1))], retries_scheduled=retries,
    )  # fmt: skip


def print_table(rows: list[DeliveryRow]) -> None:
    print("| database | down endpoint | messages | endpoints | seconds | deliveries/s | p50 ms | p99 ms | "
          "retries scheduled |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r.database} | {r.down} | {r.messages:,} | {r.endpoints} | {r.seconds:.1f} | "
            f"{r.deliveries_per_second:,.0f} | {r.p50_ms:.0f} | {r.p99_ms:.0f} | {r.retries_scheduled} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--endpoints", type=int, default=100)
    parser.add_argument("--databases", nargs="+", default=["sqlite"], choices=["sqlite", "postgres"])
    parser.add_argument("--down", nargs="+", default=["refused", "hang"], choices=["refused", "hang"])
    args = parser.parse_args()
    rows = []
    for kind in args.databases:
        for down in args.down:
            progress(f"{kind}, one endpoint {down}: {args.messages} messages to {args.endpoints} endpoints")
            rows.append(
                measure_delivery_throughput(
                    messages=args.messages, endpoints=args.endpoints, down=down, database_kind=kind
                )
            )
    print_table(rows)


if __name__ == "__main__":
    main()
