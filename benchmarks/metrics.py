"""Benchmark of ``/metrics``: scrape time, size and series per model with many models.

Registers ``--models`` binary models of ``--features`` numeric features and ``--attributes``
protected attributes (2, 3, … groups each, plus their intersection) through the real app,
then stores ``--windows`` evaluated windows per model with the figures the engine writes
for such a model (drift score and p-value per feature and output, missing and out-of-range
shares, 9 performance metrics with intervals, 5 estimated ones, fairness disparities and
per-group rates) through ``service.windows.repository.add_run``. Then measures:

- *cold*: one snapshot read from the database and rendered (what a scrape pays once per
  ``metrics_cache_seconds``), median of 5;
- *scrape*: ``GET /metrics`` through the ASGI app, p50 and p99 of ``--scrapes`` requests 10 ms
  apart, the snapshot re-read in the background every second meanwhile (as it is every
  ``metrics_cache_seconds``); the process's own instruments are rendered on every scrape;
- the series in the scrape and those labelled with a model, per model.

Once with the default budget (top 10 features) and once exporting every feature.

    python -m benchmarks.metrics                     # 100 models x 50 features x 2 attributes, SQLite
    python -m benchmarks.metrics --database-url postgresql+psycopg://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from itertools import product
from pathlib import Path
from typing import Any

from service.app import create_app
from service.clock import frozen_clock
from service.config import Settings
from service.export.collector import CachedExport
from service.export.families import Budget
from service.storage.database import unit_of_work
from service.storage.engine_tables import WindowRun
from service.storage.migrations import upgrade
from service.storage.registry_tables import ModelVersion
from service.windows import repository as window_repository
from tests.asgi_client import app_client
from tests.auth import TEST_ADMIN_KEY

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
PERFORMANCE = ("accuracy", "precision", "recall", "specificity", "f1", "brier", "roc_auc", "pr_auc", "ece")
ESTIMATED = ("accuracy", "precision", "recall", "f1", "roc_auc")
DISPARITIES = (
    "statistical_parity_difference", "disparate_impact_ratio", "equal_opportunity_difference",
    "equalized_odds_difference", "predictive_parity_difference", "representation_shift",
)  # fmt: skip
RATES = ("selection_rate", "tpr", "fpr", "ppv")


def registration(name: str, features: int, attributes: int) -> dict[str, Any]:
    return {
        "name": name,
        "version": "v1",
        "task": "binary_classification",
        "features": [{"name": f"f{i:02d}", "type": "numeric"} for i in range(features)],
        "protected_attributes": [f"a{j}" for j in range(attributes)],
        "positive_label": 1,
    }


def _figure(family: str, metric: str, value: float, **subject: str) -> dict[str, Any]:
    row = {"family": family, "metric": metric, "feature": "", "attribute": "", "group": "", **subject}
    return row | {"value": value, "ci_low": value - 0.02, "ci_high": value + 0.02, "n": 1000,
                  "threshold": 0.1, "status": "alert" if value > 0.4 else "ok"}  # fmt: skip


def _groups(attributes: int) -> dict[str, list[str]]:
    groups = {f"a{j}": [f"g{k}" for k in range(j + 2)] for j in range(attributes)}
    if attributes >= 2:
        groups["a0×a1"] = [f"{x}|{y}" for x, y in product(groups["a0"], groups["a1"])]
    return groups


def figures(features: int, attributes: int, seed: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i, name in enumerate([*(f"f{i:02d}" for i in range(features)), "prediction", "score"]):
        rows.append(_figure("drift", "drift_score", ((i * 37 + seed) % 100) / 200, feature=name))
        rows.append(_figure("drift", "p_value", 0.5, feature=name))
        if name.startswith("f"):
            rows.append(_figure("data_quality", "missing_rate", 0.01, feature=name))
            rows.append(_figure("data_quality", "out_of_range_share", 0.0, feature=name))
    rows += [_figure("performance", m, 0.8) for m in PERFORMANCE]
    rows += [_figure("estimated_performance", m, 0.78) for m in ESTIMATED]
    for attribute, groups in _groups(attributes).items():
        rows += [_figure("fairness", m, 0.05, attribute=attribute) for m in DISPARITIES]
        rows += [_figure("fairness", m, 0.3, attribute=attribute, group=g) for g in groups for m in RATES]
    return rows


def populate(url: str, models: int, features: int, attributes: int, windows: int) -> None:
    app = create_app(
        Settings(database_url=url, run_jobs=False, admin_key=TEST_ADMIN_KEY), clock=frozen_clock(NOW)
    )
    with app_client(app) as client:
        for m in range(models):
            response = client.post("/v1/models", json=registration(f"model-{m:03d}", features, attributes))
            assert response.status_code == 201, response.text
    sessions = app.state.context.sessions
    with unit_of_work(sessions) as session:
        versions = session.execute(
            ModelVersion.__table__.select().with_only_columns(ModelVersion.id, ModelVersion.model_id)
        ).all()
        for version_id, model_id in versions:
            for w in range(windows):
                end = NOW - timedelta(hours=windows - w)
                run = WindowRun(
                    model_id=model_id, version_id=version_id, window_start=end - timedelta(days=1),
                    window_end=end, revision=1, latest=True, rows=1000, labelled=600, label_coverage=0.6,
                    layout_hash="l", reference_hash="r", config_hash="c", computed_at=end,
                )  # fmt: skip
                window_repository.add_run(session, run, figures(features, attributes, model_id + w))
    app.state.context.engine.dispose()


def _series(text: str) -> tuple[int, int]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return len(lines), sum('model="' in line for line in lines)


def measure(url: str, budget: Budget, scrapes: int, models: int) -> dict[str, Any]:
    settings = Settings(database_url=url, run_jobs=False, admin_key=TEST_ADMIN_KEY)
    app = create_app(settings, clock=frozen_clock(NOW))
    context = app.state.context
    cold = []
    for _ in range(5):
        export = CachedExport(context.sessions, context.clock, budget=budget, cache_seconds=3600)
        started = time.perf_counter()
        export.text()
        cold.append((time.perf_counter() - started) * 1000)
    # Re-read every second in the background, so some scrapes run beside a refresh.
    app.state.metrics_export = CachedExport(context.sessions, context.clock, budget=budget, cache_seconds=1.0)
    timings = []
    with app_client(app) as client:
        text = client.get("/metrics").text
        for _ in range(scrapes):
            started = time.perf_counter()
            assert client.get("/metrics").status_code == 200
            timings.append((time.perf_counter() - started) * 1000)
            time.sleep(0.01)
        app.state.metrics_export.wait_idle()
    context.engine.dispose()
    series, labelled = _series(text)
    timings.sort()
    return {
        "series": series, "per_model": labelled / models, "bytes": len(text.encode()),
        "cold": statistics.median(cold), "p50": statistics.median(timings),
        "p99": timings[min(len(timings) - 1, int(len(timings) * 0.99))],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--attributes", type=int, default=2)
    parser.add_argument("--windows", type=int, default=3, help="evaluated windows stored per model")
    parser.add_argument("--scrapes", type=int, default=200)
    parser.add_argument("--database-url", help="an empty database to use (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = args.database_url or f"sqlite:///{Path(directory) / 'metrics.db'}"
        upgrade(url)
        populate(url, args.models, args.features, args.attributes, args.windows)
        print(
            "| budget | models | features | attributes | series | series per model | bytes | cold ms "
            "| scrape ms p50 / p99 |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for label, k in (("top 10 features", 10), ("every feature", args.features)):
            r = measure(url, Budget(top_k_features=k, max_groups=10), args.scrapes, args.models)
            print(
                f"| {label} | {args.models} | {args.features} | {args.attributes} | {r['series']:,} | "
                f"{r['per_model']:.0f} | {r['bytes']:,} | {r['cold']:.0f} | {r['p50']:.1f} / {r['p99']:.1f} |"
            )


if __name__ == "__main__":
    main()
