"""The evaluation engine's acceptance scenario, driven through the real API and real jobs.

A binary credit model (3 numeric + 2 categorical features, protected attributes sex and
age_band) gets a reference, then 3 days of traffic sent every 6 hours of simulated time:

- day 2 on: ``income`` shifts by +1 reference std and ``purpose`` moves to one category
  (drift injected into exactly two features);
- day 3: the selection rate of ``sex=F`` drops (scores of F lowered by 0.25);
- age_band "65+" is 0.5% of rows: always too small a group for fairness rates;
- every outcome arrives 12 h after its prediction.

The clock is shared by the app (timestamp validation) and the jobs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from tests.asgi_client import AppClient

START = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 3
STEP = timedelta(hours=6)
RATE_PER_HOUR = 120
LABEL_DELAY = timedelta(hours=12)
DRIFTED = ("income", "purpose")
CONFIG: dict[str, Any] = {
    "window": "24h",
    "step": "6h",
    "bucket": "15m",
    "label_wait": "2d",
    "fairness": {"min_group_size": 30},
}


class MutableClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def registration() -> dict[str, Any]:
    return {
        "name": "credit",
        "version": "v1",
        "task": "binary_classification",
        "features": [
            {"name": "income", "type": "numeric"},
            {"name": "debt", "type": "numeric"},
            {"name": "age", "type": "numeric"},
            {"name": "purpose", "type": "categorical"},
            {"name": "housing", "type": "categorical"},
        ],
        "protected_attributes": ["sex", "age_band"],
        "positive_label": 1,
        "classes": [0, 1],
    }


@dataclass
class Rows:
    ids: list[str]
    times: list[datetime]
    records: list[dict[str, Any]]
    labels: list[int]


def _rows(rng: np.random.Generator, n: int, t0: datetime, span: timedelta, *, day: int, prefix: str) -> Rows:
    income = rng.normal(50.0, 10.0, n) + (10.0 if day >= 2 else 0.0)
    debt = rng.normal(20.0, 5.0, n)
    age = rng.normal(40.0, 12.0, n)
    purposes = np.array(["car", "home", "education", "business"])
    p = [0.1, 0.1, 0.1, 0.7] if day >= 2 else [0.4, 0.3, 0.2, 0.1]
    purpose = purposes[rng.choice(4, n, p=p)]
    housing = np.array(["rent", "own"])[rng.integers(0, 2, n)]
    sex = np.where(rng.random(n) < 0.5, "F", "M")
    age_band = np.array(["18-34", "35-64", "65+"])[rng.choice(3, n, p=[0.5, 0.495, 0.005])]
    score = 1 / (1 + np.exp(-(debt - 20.0) / 5.0 + rng.normal(0, 0.5, n)))
    if day >= 3:
        score = np.where(sex == "F", np.clip(score - 0.25, 0.0, 1.0), score)
    labels = (rng.random(n) < 1 / (1 + np.exp(-(debt - 20.0) / 5.0))).astype(int)
    offsets = np.sort(rng.random(n)) * span.total_seconds()
    times = [t0 + timedelta(seconds=float(s)) for s in offsets]
    ids = [f"{prefix}-{i}" for i in range(n)]
    records = [
        {
            "id": ids[i],
            "timestamp": times[i].isoformat(),
            "features": {
                "income": float(income[i]),
                "debt": float(debt[i]),
                "age": float(age[i]),
                "purpose": str(purpose[i]),
                "housing": str(housing[i]),
            },
            "score": float(score[i]),
            "prediction": int(score[i] >= 0.5),
            "attributes": {"sex": str(sex[i]), "age_band": str(age_band[i])},
        }
        for i in range(n)
    ]
    return Rows(ids, times, records, [int(v) for v in labels])


def reference(seed: int = 7) -> list[dict[str, Any]]:
    rows = _rows(
        np.random.default_rng(seed), 3000, START - timedelta(days=7), timedelta(days=1), day=1, prefix="r"
    )
    return [
        {k: r[k] for k in ("features", "score", "prediction", "attributes")} | {"label": label}
        for r, label in zip(rows.records, rows.labels, strict=True)
    ]


def run(client: AppClient, clock: MutableClock, run_jobs: Callable[[], None], seed: int = 11) -> None:
    """Register, configure, upload the reference, then 12 steps of 6 h: send, label, run the jobs."""
    assert client.post("/v1/models", json=registration()).status_code == 201
    assert client.put("/v1/models/credit/monitor", json=CONFIG).status_code == 200
    response = client.post("/v1/models/credit/reference", json={"rows": reference()})
    assert response.status_code in (200, 201), response.text
    rng = np.random.default_rng(seed)
    pending: list[tuple[datetime, str, int]] = []
    t = START
    while t < START + timedelta(days=DAYS):
        day = 1 + (t - START).days
        rows = _rows(
            rng, int(RATE_PER_HOUR * STEP.total_seconds() / 3600), t, STEP, day=day, prefix=t.strftime("%d%H")
        )
        clock.at = t + STEP
        response = client.post("/v1/models/credit/predictions", json={"predictions": rows.records})
        assert response.status_code == 200, response.text
        pending += [
            (tm + LABEL_DELAY, i, y) for tm, i, y in zip(rows.times, rows.ids, rows.labels, strict=True)
        ]
        _send_due_labels(client, pending, clock.at)
        run_jobs()
        t += STEP
    for extra in range(1, 4):  # the last labels arrive after the traffic stops
        clock.at = START + timedelta(days=DAYS) + extra * STEP
        _send_due_labels(client, pending, clock.at)
        run_jobs()


def _send_due_labels(client: AppClient, pending: list[tuple[datetime, str, int]], now: datetime) -> None:
    due = [p for p in pending if p[0] <= now]
    if not due:
        return
    pending[:] = [p for p in pending if p[0] > now]
    body = {"outcomes": [{"prediction_id": i, "label": y, "timestamp": t.isoformat()} for t, i, y in due]}
    response = client.post("/v1/models/credit/outcomes", json=body)
    assert response.status_code == 200, response.text
