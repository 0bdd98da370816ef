"""Benchmark: the compliance report (``GET /v1/models/{name}/report``) of a 1M-row window.

The data is ``benchmarks.evaluate``'s (20 features, protected attributes sex and age_band,
outcomes for half): ``--rows`` predictions over the 24 h before ``END``, COPied into a
throwaway Postgres database, folded into 5-minute bucket profiles and their windows evaluated
by the real jobs. Then, median of ``--repeats``, the report of that day through the app
in-process (ASGI: request, the merge of the stored profiles, the figures, the stored lists,
the HTML), with the process's peak RSS above its level before the request and Python's
allocation peak (tracemalloc, the last repeat only: it slows allocation); then one PDF
(headless Chromium's print) when Chromium is installed.

    python -m benchmarks.report              # 1M rows, ~5 min on 2 shared cores
    python -m benchmarks.report --quick      # 50,000 rows, ~1 min

Progress goes to stderr, the table to stdout. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
import tracemalloc
from dataclasses import dataclass, field
from datetime import timedelta

from benchmarks.common import PeakRss, parse_size, postgres_database, progress
from benchmarks.evaluate import END, Plan, Results, aggregate, in_child, prepare
from service.app import create_app
from service.clock import frozen_clock
from service.config import Settings
from service.runner import Pipeline
from tests.asgi_client import app_client

START = END - timedelta(days=1)
GOAL_S = 5.0  # a report of a 1M-row day well within an HTTP timeout
MIB = 2**20


@dataclass
class Measured:
    seconds: list[float] = field(default_factory=list)
    rss_mib: list[float] = field(default_factory=list)
    traced_mib: float = 0.0
    pdf_s: float | None = None
    html_kib: float = 0.0
    pdf_kib: float = 0.0
    evaluated_s: float = 0.0


def _get(client: object, fmt: str) -> tuple[float, bytes]:
    params = {"from": START.isoformat(), "to": END.isoformat(), "format": fmt}
    began = time.perf_counter()
    response = client.get("/v1/models/bench/report", params=params)  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - began
    assert response.status_code == 200, response.text
    return elapsed, response.content


def measure(url: str, repeats: int) -> Measured:
    settings = Settings(database_url=url, run_jobs=False)
    clock = frozen_clock(END + timedelta(hours=1))
    app = create_app(settings, clock=clock)
    jobs = Pipeline(app.state.context.sessions, settings, clock)
    out = Measured()
    try:
        aggregate(jobs, Results(0, 1, 0))
        began = time.perf_counter()
        jobs.run_round(max_seconds=600.0)  # evaluate the due windows, alert, as a worker would
        out.evaluated_s = time.perf_counter() - began
        with app_client(app) as client:
            _get(client, "html")  # warm: imports, first connection
            for repeat in range(repeats):
                if repeat == repeats - 1:
                    tracemalloc.start()
                with PeakRss() as memory:
                    seconds, body = _get(client, "html")
                out.seconds.append(seconds)
                out.rss_mib.append((memory.peak - memory.base) / MIB)
                progress(f"report {repeat + 1}/{repeats}: {seconds:.2f} s")
            out.traced_mib = tracemalloc.get_traced_memory()[1] / MIB
            tracemalloc.stop()
            out.html_kib = len(body) / 1024
            if shutil.which("chromium") or shutil.which("chromium-browser"):
                out.pdf_s, document = _get(client, "pdf")
                out.pdf_kib = len(document) / 1024
    finally:
        jobs.close()
        app.state.context.engine.dispose()
    return out


def table(rows: int, repeats: int, m: Measured) -> str:
    median = statistics.median(m.seconds)
    runs = ", ".join(f"{s:.2f}" for s in m.seconds)
    pdf = "Chromium not installed" if m.pdf_s is None else f"{m.pdf_s:.2f} s ({m.pdf_kib:,.0f} KiB)"
    lines = [
        f"modelmon compliance report of a 24 h window of {rows:,} predictions (20 features, "
        f"sex × age_band), median of {repeats}",
        "",
        "| figure | value |",
        "|---|---:|",
        f"| after folding: the jobs' round (due windows evaluated, alerts) | {m.evaluated_s:.1f} s |",
        f"| HTML report through the API | {median:.2f} s (runs: {runs}) |",
        f"| peak RSS above the level before the request | {max(m.rss_mib):.1f} MiB |",
        f"| Python allocation peak (tracemalloc) | {m.traced_mib:.1f} MiB |",
        f"| page size | {m.html_kib:,.0f} KiB |",
        f"| PDF (HTML + headless Chromium's print) | {pdf} |",
        "",
        f"report within {GOAL_S:.0f} s: {'met' if median <= GOAL_S else 'NOT met'}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=parse_size, default=1_000_000)
    parser.add_argument("--reference-rows", type=parse_size, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="50,000 rows")
    args = parser.parse_args(argv)
    rows = 50_000 if args.quick else args.rows
    with postgres_database() as url:
        in_child(prepare, url, Plan(rows, START, END), args.reference_rows)
        measured = measure(url, args.repeats)
    print(table(rows, args.repeats, measured))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
