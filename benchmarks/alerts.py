"""Alerting latency and delivery throughput; prints two tables.

1. **Detection latency.** Time from the first drifted prediction to the signed
   ``alert.firing`` webhook a receiver on loopback gets. It runs on a live ``modelmon serve``
   with the embedded default (SQLite, jobs in the API process) and the default settings,
   except for 1-minute steps (and buckets, which must divide a step). Drifted traffic
   streams at a fixed rate from the first prediction on. The goal is one step + 30 s. The
   table splits the time into the wait for the first window end and the processing after
   the end of the window that fired (the worker's 10 s pause, aggregation, evaluation,
   alerting, delivery).
2. **Delivery throughput.** 100 endpoints, one of them down (``benchmarks/deliveries.py``).

    .venv/bin/python -m benchmarks.alerts [--runs 2] [--fire-after 1] [--skip-throughput]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

from benchmarks.common import BENCH_ADMIN_KEY, BENCH_HEADERS, progress
from tests.live import serve

RATE_PER_SECOND = 20
STEP_SECONDS = 60


class Inbox:
    """A webhook receiver on loopback that notes when each event type first arrived."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.bodies: list[dict[str, Any]] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = orjson.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
                inbox.first.setdefault(str(body["type"]), time.time())
                inbox.bodies.append(body)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def live_service(workdir: Path) -> Iterator[str]:
    """``modelmon serve`` on SQLite with the jobs in the API (the embedded default)."""
    database = f"sqlite:///{workdir / 'modelmon.db'}"
    with serve(database, workdir, run_jobs=None, MODELMON_ADMIN_KEY=BENCH_ADMIN_KEY) as url:
        yield url


MODEL = {
    "name": "bench",
    "version": "v1",
    "task": "binary_classification",
    "features": [{"name": f"x{i}", "type": "numeric"} for i in range(4)]
    + [{"name": "kind", "type": "categorical"}],
    "positive_label": 1,
    "classes": [0, 1],
}


def _rows(rng: np.random.Generator, n: int, shift: float, kinds: list[str]) -> list[dict[str, object]]:
    x = rng.normal(0.0, 1.0, (n, 4)) + np.array([shift, 0.0, 0.0, 0.0])
    kind = rng.choice(kinds, n)
    return [
        {
            "features": {**{f"x{j}": float(x[i, j]) for j in range(4)}, "kind": str(kind[i])},
            "prediction": 0,
            "score": 0.4,
        }
        for i in range(n)
    ]


def _set_up(http: httpx.Client, inbox: Inbox, fire_after: int) -> None:
    assert http.post("/v1/models", json=MODEL).status_code == 201
    config = {"step": "1m", "bucket": "1m", "alerting": {"drift": {"fire_after": fire_after}}}
    assert http.put("/v1/models/bench/monitor", json=config).status_code == 200
    rng = np.random.default_rng(1)
    reference = [{**r, "label": int(rng.integers(0, 2))} for r in _rows(rng, 5000, 0.0, ["a", "b", "c"])]
    uploaded = http.post("/v1/models/bench/reference", json={"rows": reference})
    assert uploaded.status_code in (200, 201), uploaded.text
    hook = {"url": inbox.url, "events": ["alert.firing"], "description": "benchmark"}
    assert http.post("/v1/webhooks", json=hook).status_code == 201


def _stream_until_alert(http: httpx.Client, inbox: Inbox, deadline: float) -> float:
    """Send drifted traffic (x0 shifted by 1 std) every second; the time of the first prediction."""
    rng = np.random.default_rng(2)
    first, sent = time.time(), 0
    while "alert.firing" not in inbox.first and time.time() < deadline:
        now = datetime.now(UTC).isoformat()
        batch = [
            {"id": f"p{sent + i}", "timestamp": now, **row}
            for i, row in enumerate(_rows(rng, RATE_PER_SECOND, 1.0, ["a", "b", "c"]))
        ]
        response = http.post("/v1/models/bench/predictions", json={"predictions": batch})
        assert response.status_code == 200, response.text
        sent += len(batch)
        time.sleep(max(0.0, first + sent / RATE_PER_SECOND - time.time()))
    return first


@dataclass(frozen=True)
class LatencyRow:
    fire_after: int
    first_window_wait: float
    to_webhook: float
    after_window_end: float
    feature: str


def measure_latency(fire_after: int) -> LatencyRow:
    with tempfile.TemporaryDirectory() as scratch:
        inbox = Inbox()
        try:
            with (
                live_service(Path(scratch)) as url,
                httpx.Client(base_url=url, timeout=30, headers=BENCH_HEADERS) as http,
            ):
                _set_up(http, inbox, fire_after)
                # Start just after a step boundary, the worst case for the first window's wait.
                time.sleep(STEP_SECONDS - time.time() % STEP_SECONDS + 0.5)
                first = _stream_until_alert(http, inbox, deadline=time.time() + 10 * STEP_SECONDS)
        finally:
            inbox.close()
    if "alert.firing" not in inbox.first:
        raise SystemExit("no alert.firing webhook within 10 steps")
    arrived = inbox.first["alert.firing"]
    alert = inbox.bodies[0]["data"]["alert"]
    window_end = datetime.fromisoformat(str(alert["window_end"])).timestamp()
    first_end = first - first % STEP_SECONDS + STEP_SECONDS
    return LatencyRow(
        fire_after, first_end - first, arrived - first, arrived - window_end, str(alert["feature"])
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=2, help="latency runs with the default drift rule")
    parser.add_argument(
        "--fire-after", type=int, default=1, help="one more run with this fire_after (0: none)"
    )
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    rows = []
    plan = [2] * args.runs + ([args.fire_after] if args.fire_after else [])
    for i, fire_after in enumerate(plan, 1):
        progress(f"latency run {i}/{len(plan)} (drift fire_after={fire_after}, ~{fire_after + 2} min)")
        rows.append(measure_latency(fire_after))
    print("\nDetection latency (1-minute steps, 20 drifted predictions/s, embedded SQLite)\n")
    columns = ["drift fire_after", "wait for the first window end", "first drifted prediction → webhook"]
    print("| " + " | ".join([*columns, "window end → webhook", "feature"]) + " |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row.fire_after} | {row.first_window_wait:.1f} s | {row.to_webhook:.1f} s | "
            f"{row.after_window_end:.1f} s | {row.feature} |"
        )
    if args.skip_throughput:
        return
    from benchmarks.deliveries import measure_delivery_throughput, print_table

    progress("delivery throughput: 100 endpoints, one refusing connections")
    refused = measure_delivery_throughput(messages=100, endpoints=100, down="refused")
    progress("delivery throughput: 100 endpoints, one hanging until the timeout")
    hanging = measure_delivery_throughput(messages=100, endpoints=100, down="hang")
    print_table([refused, hanging])


if __name__ == "__main__":
    main()
