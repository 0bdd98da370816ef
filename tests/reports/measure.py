"""Time and memory of one drift report at the default sample size (the figures in docs/reports.md).

    python -m tests.reports.measure [database-url]

A 20-feature model (15 numeric, 5 categorical): 20,000 reference rows, 50,000 predictions in
the window; both sides are sampled to 5,000 rows. Prints the first report (which imports
Evidently), then the median of 3 more: reading the sample, rendering, the whole request, and
the memory: the process's peak RSS and tracemalloc's peak while one report renders.
"""

from __future__ import annotations

import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from service.app import create_app
from service.clock import frozen_clock
from service.config import Settings
from service.reports import drift, evidently_report
from service.reports.schemas import DEFAULT_SAMPLE, DriftRequest
from service.storage.migrations import upgrade
from tests.asgi_client import AppClient, app_client

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
START = datetime(2026, 11, 21, tzinfo=UTC)
NUMERIC = [f"n{i:02d}" for i in range(15)]
CATEGORICAL = [f"c{i}" for i in range(5)]


def _rows(rng: np.random.Generator, n: int, shift: float) -> list[dict[str, Any]]:
    numbers = rng.normal(shift, 1.0, (n, len(NUMERIC)))
    levels = rng.integers(0, 8, (n, len(CATEGORICAL)))
    return [
        {**dict(zip(NUMERIC, map(float, numbers[i]), strict=True))}
        | {name: f"level{levels[i, j]}" for j, name in enumerate(CATEGORICAL)}
        for i in range(n)
    ]


def _load(client: AppClient) -> None:
    features = [{"name": n, "type": "numeric"} for n in NUMERIC] + [
        {"name": n, "type": "categorical"} for n in CATEGORICAL
    ]
    body = {
        "name": "m",
        "version": "v1",
        "task": "binary_classification",
        "features": features,
        "positive_label": 1,
    }
    assert client.post("/v1/models", json=body).status_code == 201
    rng = np.random.default_rng(0)
    reference = [{"features": f, "prediction": 0, "score": 0.3, "label": 0} for f in _rows(rng, 20_000, 0.0)]
    uploaded = client.post("/v1/models/m/reference", json={"rows": reference})
    assert uploaded.status_code in (200, 201), uploaded.text[:500]
    current = _rows(rng, 50_000, 0.2)
    step = timedelta(hours=12) / len(current)
    for first in range(0, len(current), 10_000):
        batch = [
            {
                "id": str(i),
                "timestamp": (START + i * step).isoformat(),
                "features": current[i],
                "prediction": 1,
            }
            for i in range(first, first + 10_000)
        ]
        assert client.post("/v1/models/m/predictions", json={"predictions": batch}).status_code == 200


def _timed(call: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def main(url: str) -> None:
    app = create_app(Settings(database_url=url, run_jobs=False), clock=frozen_clock(NOW))
    request = DriftRequest(START, START + timedelta(hours=12), None, DEFAULT_SAMPLE, 0)
    params = {"from": request.start.isoformat(), "to": request.end.isoformat()}
    with app_client(app) as client:
        _load(client)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        first, first_s = _timed(lambda: client.get("/v1/models/m/reports/drift", params=params))
        assert first.status_code == 200, first.text
        reads, renders, requests = [], [], []
        for _ in range(3):
            data, read_s = _timed(lambda: drift.collect(app.state.context.sessions, "m", request))
            _, render_s = _timed(lambda d=data: evidently_report.render(d))
            _, request_s = _timed(lambda: client.get("/v1/models/m/reports/drift", params=params))
            reads.append(read_s)
            renders.append(render_s)
            requests.append(request_s)
        # tracemalloc slows rendering ~3x: its pass is separate from the timed ones.
        tracemalloc.start()
        evidently_report.render(data)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows per side: {first.headers['x-modelmon-sampling']}; page {len(first.content) / 2**20:.1f} MiB")
    print(f"first report (imports Evidently): {first_s:.2f} s")
    print(
        f"read sample: {statistics.median(reads):.2f} s; render: {statistics.median(renders):.2f} s; ", end=""
    )
    print(f"whole request: {statistics.median(requests):.2f} s (medians of 3)")
    print(f"tracemalloc peak while rendering: {peak:.0f} MiB")
    print(f"peak RSS before the first report: {rss_before:.0f} MiB; after: {rss_after:.0f} MiB")
    app.state.context.engine.dispose()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        target = sys.argv[1]
    else:
        target = f"sqlite:///{tempfile.mkdtemp()}/measure.db"
        upgrade(target)
    main(target)
