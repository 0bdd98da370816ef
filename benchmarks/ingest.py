"""Write-path speed: predictions/s and request latency through a live `modelmon serve`.

For batches of 1, 100, 1,000 and 10,000 predictions (20 features, 2 attributes), on SQLite
and on Postgres, with concurrent keep-alive clients, as JSON bodies and (batches over 1) as
Parquet and Arrow IPC stream bodies of the same rows; and, in the same run, before and after
the requests, the rate of a raw COPY of the same rows into a table of the predictions' shape
with only a primary key (the ceiling issue 18 measures against).

    python -m benchmarks.ingest                      # both databases, defaults
    python -m benchmarks.ingest --quick              # Postgres, batches of 1,000, ~1 minute
    python -m benchmarks.ingest --databases postgres --workers 2 --clients 8

Prints a progress line per step to stderr and the table to stdout.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg

from benchmarks.common import BENCH_HEADERS, postgres_database
from tests.ingestion.columnar_bodies import ARROW_STREAM, PARQUET
from tests.ingestion.columnar_bodies import body as columnar_body

CONTENT_TYPES = {"json": "application/json", "parquet": PARQUET, "arrow": ARROW_STREAM}

NUMERIC = [f"num_{i:02d}" for i in range(15)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
START = datetime.now(UTC) - timedelta(days=1)


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def registration() -> dict[str, Any]:
    return {
        "name": "bench",
        "version": "v1",
        "task": "binary_classification",
        "positive_label": 1,
        "features": [{"name": n, "type": "numeric"} for n in NUMERIC]
        + [{"name": n, "type": "categorical"} for n in CATEGORICAL],
        "protected_attributes": ["sex", "age_band"],
    }


def record(run: str, i: int) -> dict[str, Any]:
    features: dict[str, Any] = {n: (i * 31 + k * 17) % 1000 / 7.0 for k, n in enumerate(NUMERIC)}
    features.update({n: f"c{(i + k) % 6}" for k, n in enumerate(CATEGORICAL)})
    return {
        "id": f"{run}-{i}",
        "timestamp": (START + timedelta(milliseconds=i)).isoformat(),
        "features": features,
        "prediction": i % 2,
        "score": (i % 1000) / 1000,
        "attributes": {"sex": "F" if i % 2 else "M", "age_band": ("18-24", "25-44", "45+")[i % 3]},
    }


@dataclass
class Result:
    database: str
    body: str
    batch: int
    requests: int
    rows: int
    seconds: float
    latencies_ms: list[float]
    # CPU seconds of the server's processes and of the database's backends while the requests ran.
    server_cpu: float = 0.0
    postgres_cpu: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each process still running (a pid gone is left out)."""
    import psutil

    seconds = {}
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        seconds[pid] = times.user + times.system
    return seconds


def _process_tree(pid: int) -> list[int]:
    import psutil

    return [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]


def _backends(url: str) -> list[int]:
    """The pids of the Postgres backends connected to the benchmark's database."""
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [int(row[0]) for row in rows]


@dataclass
class CpuMeter:
    """CPU seconds spent by the server's process tree and (Postgres) the database's backends
    between ``start`` and ``stop``: what a request costs apart from the machine's other load."""

    server_pid: int
    database_url: str | None
    _before: dict[int, float] | None = None

    def _pids(self) -> list[int]:
        backends = _backends(self.database_url) if self.database_url else []
        return _process_tree(self.server_pid) + [-pid for pid in backends]

    def _snapshot(self) -> dict[int, float]:
        pids = self._pids()
        seconds = _cpu_seconds([abs(pid) for pid in pids])
        return {pid: seconds[abs(pid)] for pid in pids if abs(pid) in seconds}

    def start(self) -> None:
        self._before = self._snapshot()

    def stop(self) -> tuple[float, float]:
        assert self._before is not None
        before, after = self._before, self._snapshot()
        spent = {pid: value - before.get(pid, 0.0) for pid, value in after.items()}
        return (
            sum(v for pid, v in spent.items() if pid > 0),
            sum(v for pid, v in spent.items() if pid < 0),
        )


@contextmanager
def server(database_url: str, workers: int, auth: str = "env") -> Iterator[tuple[int, int]]:
    port = _free_port()
    env = {
        **os.environ,
        "MODELMON_AUTH": "false" if auth == "off" else "true",
        "MODELMON_DATABASE_URL": database_url,
        "MODELMON_PORT": str(port),
        "MODELMON_WORKERS": str(workers),
        "MODELMON_AUTO_MIGRATE": "true",
        "MODELMON_LOG_LEVEL": "warning",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if _request(port, "GET", "/readyz", None)[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("modelmon serve did not become ready")
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def _request(
    port: int,
    method: str,
    path: str,
    body: bytes | None,
    connection: http.client.HTTPConnection | None = None,
    auth: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> tuple[int, bytes]:
    conn = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"content-type": content_type} if body is not None else {}
    conn.request(method, path, body=body, headers={**headers, **(auth or BENCH_HEADERS)})
    response = conn.getresponse()
    data = response.read()
    if connection is None:
        conn.close()
    return response.status, data


def stored_ingest_key(database_url: str) -> dict[str, str]:
    """A key made with `modelmon keys create` (stored hashed, looked up and cached by the server)."""
    env = {**os.environ, "MODELMON_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "service", "keys", "create", "--role", "ingest", "--models", "bench"]
    created = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}


def run_load(
    port: int,
    bodies: list[bytes],
    clients: int,
    auth: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> tuple[float, list[float]]:
    """Send every body once, from ``clients`` threads on keep-alive connections."""
    latencies: list[float] = []
    lock = threading.Lock()
    cursor = iter(range(len(bodies)))
    failures: list[str] = []

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        own: list[float] = []
        while True:
            with lock:
                index = next(cursor, None)
            if index is None:
                break
            began = time.perf_counter()
            status, data = _request(
                port, "POST", "/v1/models/bench/predictions", bodies[index], connection, auth, content_type
            )
            own.append((time.perf_counter() - began) * 1000)
            if status != 200:
                failures.append(f"{status}: {data[:200]!r}")
        connection.close()
        with lock:
            latencies.extend(own)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. {failures[0]}")
    return elapsed, latencies


def encoded(records: list[dict[str, Any]], body: str) -> bytes:
    if body == "json":
        return orjson.dumps({"predictions": records})
    return columnar_body(records, CONTENT_TYPES[body])


def warm_up(port: int, bodies: list[str], auth: dict[str, str] | None) -> None:
    """A few untimed requests of each body format: the server's first Parquet request imports
    pyarrow.parquet (~0.5 s here), which must not count against whichever format runs first."""
    run = f"warm-{uuid.uuid4().hex[:8]}"
    for k, body in enumerate(bodies * 3):
        records = [record(run, k * 100 + i) for i in range(100)]
        _request(
            port,
            "POST",
            "/v1/models/bench/predictions",
            encoded(records, body),
            None,
            auth,
            CONTENT_TYPES[body],
        )


def bench_database(name: str, url: str, args: argparse.Namespace) -> list[Result]:
    results = []
    with server(url, args.workers, args.auth) as (port, pid):
        meter = CpuMeter(pid, url if name == "postgres" else None)
        status, data = _request(port, "POST", "/v1/models", orjson.dumps(registration()))
        assert status in (200, 201), data
        auth = stored_ingest_key(url) if args.auth == "stored" else None
        warm_up(port, args.bodies, auth)
        for batch in args.batch_sizes:
            results += bench_batch(name, port, meter, batch, args, auth)
    return results


def bench_batch(
    name: str, port: int, meter: CpuMeter, batch: int, args: argparse.Namespace, auth: dict[str, str] | None
) -> list[Result]:
    """Each body format's share of the rows, sent in ``--rounds`` interleaved rounds (json,
    parquet, arrow, json, …): on a machine whose load drifts, each format meets the same drift."""
    bodies = args.bodies if batch > 1 else ["json"]
    rows = max(batch * 4, args.rows if batch > 1 else args.single_requests)
    rounds = max(1, min(args.rounds, rows // batch))
    requests = rows // batch // rounds
    totals = {body: Result(name, body, batch, 0, 0, 0.0, []) for body in bodies}
    for round_number in range(rounds):
        for body in bodies:
            run = uuid.uuid4().hex[:8]
            payloads = [
                encoded([record(run, r * batch + i) for i in range(batch)], body) for r in range(requests)
            ]
            progress(
                f"{name}: round {round_number + 1}/{rounds}, {requests} {body} requests of {batch} "
                f"predictions, {args.clients} clients"
            )
            meter.start()
            seconds, latencies = run_load(port, payloads, args.clients, auth, CONTENT_TYPES[body])
            server_cpu, postgres_cpu = meter.stop()
            total = totals[body]
            total.server_cpu += server_cpu
            total.postgres_cpu += postgres_cpu
            total.requests += requests
            total.rows += requests * batch
            total.seconds += seconds
            total.latencies_ms += latencies
    return list(totals.values())


@dataclass(frozen=True)
class CopyRun:
    rows_per_second: float
    client_cpu_ms: float  # per 1,000 rows: this process encoding the rows
    postgres_cpu_ms: float  # per 1,000 rows: the backend that stores them


def raw_copy_rate(url: str, rows: int) -> CopyRun:
    """Rows/s of COPY of the same rows into a table of the predictions table's shape with only a
    primary key (an identity column, as the predictions' id): the ceiling of issue 18; with the
    CPU the client and the backend spent per 1,000 rows."""
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    run = uuid.uuid4().hex[:8]
    records = [record(run, i) for i in range(rows)]
    now = datetime.now(UTC)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy")
        conn.execute("CREATE TABLE bench_copy (LIKE predictions)")
        conn.execute("ALTER TABLE bench_copy ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY")
        conn.execute("ALTER TABLE bench_copy ADD PRIMARY KEY (id)")
        backend = int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]
        cpu_before = _cpu_seconds([os.getpid(), backend])
        began = time.perf_counter()
        with (
            conn.transaction(),
            conn.cursor() as cursor,
            cursor.copy(
                "COPY bench_copy (model_id, version_id, prediction_id, event_time, received_at, features, "
                "predicted_label, score, attributes, content_hash) FROM STDIN"
            ) as copy,
        ):
            for r in records:
                copy.write_row(
                    (
                        1,
                        1,
                        r["id"],
                        r["timestamp"],
                        now,
                        orjson.dumps(r["features"]).decode(),
                        str(r["prediction"]),
                        r["score"],
                        orjson.dumps(r["attributes"]).decode(),
                        r["id"].encode()[:16],
                    )
                )
        elapsed = time.perf_counter() - began
        cpu_after = _cpu_seconds([os.getpid(), backend])
        conn.execute("DROP TABLE bench_copy")
    client, postgres = (1e6 * (cpu_after[p] - cpu_before[p]) / rows for p in (os.getpid(), backend))
    return CopyRun(rows / elapsed, client, postgres)


def print_table(results: list[Result], copies: list[CopyRun]) -> None:
    """The table; CPU columns are milliseconds per 1,000 predictions (server: its process tree;
    Postgres: the database's backends), which the machine's other load hardly changes."""
    print(
        "| database | body | batch | requests | predictions/s | requests/s | p50 ms | p99 ms "
        "| server CPU ms/1k | Postgres CPU ms/1k |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        postgres = f"{1000 * r.postgres_cpu / r.rows * 1000:.1f}" if r.database == "postgres" else "–"
        print(
            f"| {r.database} | {r.body} | {r.batch:,} | {r.requests:,} | {r.rows_per_second:,.0f} | "
            f"{r.requests / r.seconds:,.0f} | {r.percentile(0.5):.1f} | {r.percentile(0.99):.1f} | "
            f"{1000 * r.server_cpu / r.rows * 1000:.1f} | {postgres} |"
        )
    if copies:
        copy_rates = [run.rows_per_second for run in copies]
        ceiling = statistics.median(copy_rates)
        print(
            f"\nraw COPY into Postgres (same rows, a table of the predictions' shape with only a primary "
            f"key), median of {len(copy_rates)} ({', '.join(f'{rate:,.0f}' for rate in copy_rates)}): "
            f"{ceiling:,.0f} rows/s; CPU per 1,000 rows: client "
            f"{statistics.median(run.client_cpu_ms for run in copies):.1f} ms, Postgres "
            f"{statistics.median(run.postgres_cpu_ms for run in copies):.1f} ms"
        )
        for r in results:
            if r.database == "postgres" and r.batch >= 100:
                ratio = r.rows_per_second / ceiling
                print(f"- postgres, {r.body} batches of {r.batch:,}: {ratio:.2f}× raw COPY")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument(
        "--batch-sizes", default="1,100,1000,10000", type=lambda s: [int(x) for x in s.split(",")]
    )
    parser.add_argument(
        "--rows", type=int, default=40_000, help="predictions sent per batch size (batch > 1)"
    )
    parser.add_argument("--single-requests", type=int, default=4_000, help="requests sent with batch size 1")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client connections")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (MODELMON_WORKERS)")
    parser.add_argument("--copy-rows", type=int, default=40_000)
    parser.add_argument(
        "--bodies",
        default="json,parquet,arrow",
        type=lambda s: s.split(","),
        help="request body formats of batches over 1 (json, parquet, arrow)",
    )
    parser.add_argument(
        "--rounds", type=int, default=4, help="interleaved rounds of the body formats per batch size"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="~1 minute: Postgres only, batches of 1,000, 30,000 rows per format and per COPY",
    )
    parser.add_argument(
        "--auth",
        choices=["env", "stored", "off"],
        default="env",
        help="ingest with MODELMON_ADMIN_KEY (env), a key made by `modelmon keys create` (stored), or "
        "with authentication off",
    )
    args = parser.parse_args()
    if args.quick:
        args.databases, args.batch_sizes, args.rows, args.copy_rows = "postgres", [1000], 30_000, 30_000
    results: list[Result] = []
    copy_rates: list[CopyRun] = []
    for name in args.databases.split(","):
        if name == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                results += bench_database("sqlite", f"sqlite:///{Path(folder) / 'bench.db'}", args)
        else:
            with postgres_database() as url:
                progress("postgres: raw COPY ceiling (before)")
                copy_rates.append(raw_copy_rate(url, args.copy_rows))
                results += bench_database("postgres", url, args)
                progress("postgres: raw COPY ceiling (after)")
                copy_rates.append(raw_copy_rate(url, args.copy_rows))
    setup = f"{args.clients} clients, {args.workers} server worker(s), auth {args.auth}"
    print(f"\n{os.cpu_count()} CPUs, {setup}\n")
    print_table(results, copy_rates)


if __name__ == "__main__":
    main()
