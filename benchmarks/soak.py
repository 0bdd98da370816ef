"""Soak: minutes of steady traffic under injected faults, then proof that nothing was lost.

One `modelmon serve` (Postgres, jobs off) and two `modelmon worker` processes reach a
throwaway Postgres database through a TCP proxy (tests/faults/proxy.py). Client threads send
predictions at a fixed rate in batches, and each batch's outcomes a few seconds later,
retrying 503, 429 and network errors as a real client does (honouring ``Retry-After``,
otherwise backing off from 0.25 s doubling to 5 s). Feature ``x0`` shifts by one standard
deviation from a minute boundary a third of the way in, so a drift alert fires; a webhook
receiver on loopback verifies every signature (Standard Webhooks) and records each
``webhook-id``. The monitor uses 1-minute windows, steps and buckets.

Faults, at fractions of the run: the database restarts at 25 % and 65 % (the proxy cuts
every connection; ``--restart-postgres`` restarts the real server instead, with
``pg_ctlcluster``: only on a machine of your own), a worker is SIGKILLed at 45 % and started
again 5 s later, and the receiver is down (503 or refusing connections) from 50 s to 95 s
after the drift began, across the drift alert's first delivery attempts.

After a drain (until the last window is evaluated and no delivery is pending) it checks
that every sent prediction and outcome is stored exactly once, that the counts the API
answered add up to what is stored, and that every notified alert event reached the receiver
exactly once per ``webhook-id``; it prints the checks and the request figures as tables and
exits 1 if any check fails.

    python -m benchmarks.soak --minutes 3 [--rate 200] [--batch 50] [--restart-postgres]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks.common import BENCH_HEADERS, postgres_database, progress
from tests.faults.clients import Ledger, post_until_stored
from tests.faults.live import Workers, restart_postgres
from tests.faults.proxy import FaultProxy
from tests.faults.receiver import SignedReceiver as Receiver
from tests.live import serve

OUTCOME_DELAY_SECONDS = 5.0
STEP_SECONDS = 60
MODEL = {
    "name": "soak",
    "version": "v1",
    "task": "binary_classification",
    "features": [{"name": f"x{i}", "type": "numeric"} for i in range(4)]
    + [{"name": "kind", "type": "categorical"}],
    "positive_label": 1,
    "classes": [0, 1],
}
MONITOR = {"window": "1m", "step": "1m", "bucket": "1m", "alerting": {"drift": {"fire_after": 1}}}


def _records(rng: np.random.Generator, prefix: str, n: int, shift: float) -> list[dict[str, Any]]:
    x = rng.normal(0.0, 1.0, (n, 4)) + np.array([shift, 0.0, 0.0, 0.0])
    kinds = rng.choice(["a", "b", "c"], n)
    now = datetime.now(UTC).isoformat()
    return [
        {
            "id": f"{prefix}{i}",
            "timestamp": now,
            "features": {**{f"x{j}": float(x[i, j]) for j in range(4)}, "kind": str(kinds[i])},
            "prediction": int(x[i, 1] > 0),
            "score": float(1 / (1 + np.exp(-x[i, 1]))),
        }
        for i in range(n)
    ]


@dataclass(frozen=True)
class Plan:
    base: str
    per_thread_per_second: float
    batch: int
    started: float
    stop_at: float
    drift_at: float


def _client(plan: Plan, n: int, ledger: Ledger) -> None:
    """One batch every ``batch / rate`` seconds; each batch's outcomes after a delay."""
    rng, interval = np.random.default_rng(n), plan.batch / plan.per_thread_per_second
    waiting: deque[tuple[float, list[str]]] = deque()
    with httpx.Client(base_url=plan.base, headers=BENCH_HEADERS, timeout=30) as http:
        tick = 0
        try:
            while (due := plan.started + tick * interval) < plan.stop_at:
                time.sleep(max(0.0, due - time.time()))
                shift = 1.0 if time.time() >= plan.drift_at else 0.0
                records = _records(rng, f"c{n}-{tick}-", plan.batch, shift)
                answer = post_until_stored(
                    http, "/v1/models/soak/predictions", {"predictions": records}, ledger
                )
                ledger.confirm("predictions", [r["id"] for r in records], answer)
                waiting.append((time.time() + OUTCOME_DELAY_SECONDS, [r["id"] for r in records]))
                while waiting and waiting[0][0] <= time.time():
                    _send_outcomes(http, rng, waiting.popleft()[1], ledger)
                tick += 1
            while waiting:
                _send_outcomes(http, rng, waiting.popleft()[1], ledger)
        except Exception as error:  # noted and checked at the end: the run must not hide it
            ledger.failures.append(f"client {n}: {type(error).__name__}: {error}")


def _send_outcomes(http: httpx.Client, rng: np.random.Generator, ids: list[str], ledger: Ledger) -> None:
    now = datetime.now(UTC).isoformat()
    labels = [{"prediction_id": i, "label": int(rng.integers(0, 2)), "timestamp": now} for i in ids]
    answer = post_until_stored(http, "/v1/models/soak/outcomes", {"outcomes": labels}, ledger)
    ledger.confirm("outcomes", ids, answer)


def _set_up(base: str, receiver: Receiver) -> None:
    with httpx.Client(base_url=base, headers=BENCH_HEADERS, timeout=60) as http:
        assert http.post("/v1/models", json=MODEL).status_code == 201
        assert http.put("/v1/models/soak/monitor", json=MONITOR).status_code == 200
        rng = np.random.default_rng(99)
        rows = [
            {k: v for k, v in r.items() if k not in ("id", "timestamp")} | {"label": int(rng.integers(0, 2))}
            for r in _records(rng, "r", 5000, 0.0)
        ]
        uploaded = http.post("/v1/models/soak/reference", json={"rows": rows})
        assert uploaded.status_code in (200, 201), uploaded.text
        hook = {"url": receiver.url, "events": ["alert.firing", "alert.resolved"], "description": "soak"}
        created = http.post("/v1/webhooks", json=hook)
        assert created.status_code == 201, created.text
        receiver.secret = created.json()["secret"]


@dataclass(frozen=True)
class Fault:
    at: float  # seconds from the start
    name: str
    action: Callable[[], None]


def _schedule(
    seconds: float, started: float, drift_at: float, faults: dict[str, Callable[[], None]]
) -> list[Fault]:
    database = "restart Postgres" if "restart" in faults else "cut every database connection"
    database_fault = faults.get("restart", faults["cut"])
    drift = drift_at - started
    plan = [
        Fault(0.25 * seconds, database, database_fault),
        Fault(0.45 * seconds, "SIGKILL worker 1", faults["kill"]),
        Fault(0.45 * seconds + 5, "start worker 1 again", faults["revive"]),
        Fault(drift + 50, "receiver down", faults["receiver down"]),
        Fault(0.65 * seconds, database, database_fault),
        Fault(drift + 95, "receiver up", faults["receiver up"]),
    ]
    return sorted(plan, key=lambda fault: fault.at)


@dataclass
class Store:
    """What the database holds, read directly (not through the proxy)."""

    url: str

    def query(self, sql: str) -> list[Any]:
        engine = create_engine(self.url)
        try:
            with engine.connect() as connection:
                return list(connection.execute(text(sql)).all())
        finally:
            engine.dispose()

    def ids(self, table: str) -> list[str]:
        return [row[0] for row in self.query(f"SELECT prediction_id FROM {table}")]

    def drained(self, last_window_end: datetime) -> bool:
        [(newest, pending)] = self.query(
            "SELECT (SELECT max(window_end) FROM window_runs), "
            "(SELECT count(*) FROM webhook_deliveries WHERE state = 'pending')"
        )
        return newest is not None and newest >= last_window_end and pending == 0


def _run_traffic(plan: Plan, threads: int, schedule: list[Fault], ledger: Ledger) -> list[str]:
    clients = [threading.Thread(target=_client, args=(plan, n, ledger)) for n in range(threads)]
    for client in clients:
        client.start()
    done, next_line = [], plan.started + 10
    pending = deque(schedule)
    while any(client.is_alive() for client in clients):
        now = time.time()
        while pending and plan.started + pending[0].at <= now:
            fault = pending.popleft()
            fault.action()
            done.append(f"{now - plan.started:5.0f} s  {fault.name}")
            progress(f"fault: {fault.name}")
        if now >= next_line:
            next_line += 10
            _progress_line(now - plan.started, ledger)
        time.sleep(0.1)
    for fault in pending:  # a run shorter than its schedule: the rest, in order, at its end
        fault.action()
        done.append(f"{time.time() - plan.started:5.0f} s  {fault.name} (after the traffic)")
    return done


def _progress_line(elapsed: float, ledger: Ledger) -> None:
    with ledger.lock:
        sent = {kind: len(ids) for kind, ids in ledger.confirmed.items()}
        attempts = len(ledger.attempts)
    progress(
        f"{elapsed:4.0f} s: {sent['predictions']:,} predictions and {sent['outcomes']:,} outcomes stored, "
        f"{attempts:,} requests, {ledger.errors().total()} answered with an error before retry"
    )


def _drain(store: Store, stop_at: float, seconds: float) -> float:
    """Wait until the window holding the last prediction is evaluated and no delivery is pending."""
    last_end = datetime.fromtimestamp((stop_at // STEP_SECONDS + 1) * STEP_SECONDS, UTC)
    started = time.time()
    while time.time() - started < seconds and not store.drained(last_end):
        time.sleep(2)
        if int(time.time() - started) % 10 < 2:
            progress(f"draining: {time.time() - started:.0f} s")
    return time.time() - started


Check = tuple[str, str, str, bool]  # (what, expected, observed, holds)


def _stored_once(store: Store, ledger: Ledger) -> list[Check]:
    checks = []
    for kind in ("predictions", "outcomes"):
        stored, sent = store.ids(kind), ledger.confirmed[kind]
        exact = len(stored) == len(set(stored)) == len(sent) and set(stored) == sent
        seen = f"{len(stored):,} rows, {len(set(stored)):,} ids, {len(set(stored) ^ sent)} differ"
        checks.append((f"{kind} stored once each", f"{len(sent):,} sent", seen, exact))
        accepted, late = ledger.accepted[kind], ledger.duplicates_after_retry[kind]
        unexplained = ledger.duplicates_first_time[kind]
        told = (f"{kind}: accepted + duplicates after a lost answer", f"{len(stored):,}")
        checks.append(
            (
                *told,
                f"{accepted:,} + {late:,} (+ {unexplained} unexplained)",
                accepted + late == len(stored) and not unexplained,
            )
        )
    return checks


def _delivered_once(store: Store, receiver: Receiver) -> list[Check]:
    [(fired, notified, windows, latest)] = store.query(
        "SELECT (SELECT count(*) FROM alerts WHERE fired_at IS NOT NULL), "
        "(SELECT count(*) FROM alert_transitions WHERE notified), "
        "(SELECT count(DISTINCT window_end) FROM window_runs), "
        "(SELECT count(*) FROM window_runs WHERE latest)"
    )
    query = "SELECT message_id FROM webhook_messages WHERE event_type LIKE 'alert.%'"
    messages = {row[0] for row in store.query(query)}
    states = dict(store.query("SELECT state, count(*) FROM webhook_deliveries GROUP BY state"))
    with receiver.lock:
        ok = Counter({m: sum(200 <= s < 300 for s in got) for m, got in receiver.answered.items()})
    once, unknown, bad = sum(ok[m] == 1 for m in messages), len(set(ok) - messages), receiver.bad_signatures
    return [
        ("windows with exactly one latest evaluation", f"{windows}", f"{latest}", windows == latest > 0),
        ("alerts fired", "≥ 1", str(fired), fired >= 1),
        ("alert events in the outbox", f"{notified} notified", str(len(messages)), notified == len(messages)),
        ("alert events received once per webhook-id", str(len(messages)), str(once), once == len(messages)),
        (
            "deliveries",
            f"{len(messages)} delivered",
            str(states),
            states == {"delivered": len(messages)},
        ),
        ("bad signatures, unknown webhook-ids", "0, 0", f"{bad}, {unknown}", bad == unknown == 0),
    ]


def _figures(ledger: Ledger, seconds: float, store: Store) -> list[tuple[str, str]]:
    latencies = sorted(a.seconds * 1000 for a in ledger.attempts)
    errors, total = ledger.errors(), len(latencies)
    p99 = latencies[int(0.99 * (total - 1))]
    listed = ", ".join(f"{k} × {v}" for k, v in errors.most_common()) or "none"
    [(failed,)] = store.query(
        "SELECT count(*) FROM webhook_attempts WHERE status_code IS NULL OR status_code >= 300"
    )
    return [
        ("requests (attempts, retries included)", f"{total:,} in {seconds:.0f} s: {total / seconds:.1f}/s"),
        ("predictions stored per second", f"{len(ledger.confirmed['predictions']) / seconds:.1f}"),
        ("errors before retry", f"{errors.total()} ({100 * errors.total() / total:.2f} %): {listed}"),
        (
            "latency p50 / p99 (every attempt)",
            f"{statistics.median(latencies):.0f} / {p99:.0f} ms",
        ),
        ("webhook attempts that failed (receiver down)", str(failed)),
    ]


def _print_report(checks: list[Check], figures: list[tuple[str, str]], faults: list[str]) -> None:
    print("\n| check | expected | observed | holds |\n|---|---|---|---|")
    for what, expected, observed, holds in checks:
        print(f"| {what} | {expected} | {observed} | {'yes' if holds else '**NO**'} |")
    print("\n| figure | value |\n|---|---|")
    for name, value in figures:
        print(f"| {name} | {value} |")
    print("\nFaults injected (seconds from the start):\n")
    for line in faults:
        print(f"    {line}")


def _drift_start(started: float, seconds: float) -> float:
    """The first minute boundary a third of the way in: the next window is all drifted."""
    return (int(started + seconds / 3) // STEP_SECONDS + 1) * STEP_SECONDS


@contextmanager
def _stack(workdir: Path) -> Iterator[tuple[ExitStack, str, str, FaultProxy, Receiver, str]]:
    """(stack, database URL, the same through the proxy, proxy, receiver, API base URL)."""
    with ExitStack() as stack:
        url = stack.enter_context(postgres_database())
        target = make_url(url)
        proxy = stack.enter_context(FaultProxy((target.host or "127.0.0.1", target.port or 5432)))
        proxied = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        receiver = Receiver()
        stack.callback(receiver.close)
        base = stack.enter_context(serve(proxied, workdir))
        _set_up(base, receiver)
        yield stack, url, proxied, proxy, receiver, base


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    # Shorter runs have no full window of drifted traffic before the end.
    parser.add_argument("--minutes", type=float, default=3.0, help="at least 3")
    parser.add_argument("--rate", type=float, default=200.0, help="predictions per second, all threads")
    parser.add_argument("--batch", type=int, default=50, help="predictions per request")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--drain-seconds", type=float, default=240.0)
    parser.add_argument("--receiver-down", choices=["503", "refuse"], default="503")
    parser.add_argument(
        "--restart-postgres", action="store_true", help="restart the real server (pg_ctlcluster)"
    )
    args = parser.parse_args()
    if args.minutes < 3:
        parser.error("--minutes must be at least 3")
    return args


def _faults(
    args: argparse.Namespace, proxy: FaultProxy, workers: Workers, receiver: Receiver
) -> dict[str, Callable[[], None]]:
    faults: dict[str, Callable[[], None]] = {
        "cut": lambda: progress(f"cut {proxy.cut_all()} connections"),
        "kill": lambda: workers.kill(1),
        "revive": lambda: workers.restart(1),
        "receiver down": lambda: receiver.down(args.receiver_down),
        "receiver up": receiver.up,
    }
    if args.restart_postgres:
        faults["restart"] = restart_postgres
    return faults


def main() -> None:
    args = _arguments()
    seconds, ledger = args.minutes * 60, Ledger()
    with (
        tempfile.TemporaryDirectory() as scratch,
        _stack(Path(scratch)) as (stack, url, proxied, proxy, receiver, base),
    ):
        workers = Workers(proxied, Path(scratch), 2)
        stack.callback(workers.stop)
        started = time.time()
        drift_at = _drift_start(started, seconds)
        plan = Plan(base, args.rate / args.threads, args.batch, started, started + seconds, drift_at)
        progress(
            f"soak: {args.minutes:g} min, {args.rate:g} predictions/s, drift at {drift_at - started:.0f} s"
        )
        schedule = _schedule(seconds, started, drift_at, _faults(args, proxy, workers, receiver))
        done = _run_traffic(plan, args.threads, schedule, ledger)
        ingest_seconds = time.time() - started
        store = Store(url)
        drained = _drain(store, plan.stop_at, args.drain_seconds)
        checks = [*_stored_once(store, ledger), *_delivered_once(store, receiver)]
        failures = ("client failures (a 4xx/5xx but 429/503, no Retry-After)", "0", str(len(ledger.failures)))
        checks.append((*failures, not ledger.failures))
        extra = [("drain", f"{drained:.0f} s"), ("workers SIGKILLed", str(workers.kills))]
        figures = [*_figures(ledger, ingest_seconds, store), *extra]
    for failure in ledger.failures[:10]:
        progress(failure)
    _print_report(checks, figures, done)
    if not all(holds for *_, holds in checks):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
