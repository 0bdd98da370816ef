"""The service-health instruments other packages record into (prometheus-client, default
registry). Model-health gauges are not here: a collector reads them from stored evaluations
(``service/export/snapshot.py``).

Every instrument is per process. Under ``PROMETHEUS_MULTIPROC_DIR`` (several uvicorn
workers, docs/metrics.md) prometheus-client sums counters and histograms over the
processes; gauges say how with ``multiprocess_mode``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

from service.errors import ApiError

# Seconds: 5 ms (a health probe) to 30 s (a 10,000-record batch on a busy database).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Records per request, up to MODELMON_MAX_BATCH_SIZE's default of 10,000 and beyond.
BATCH_BUCKETS = (1, 10, 100, 500, 1_000, 5_000, 10_000, 50_000, 100_000)
# Seconds from a prediction's event time to its outcome: 1 minute to 90 days.
DELAY_BUCKETS = (60, 600, 3_600, 6 * 3_600, 86_400, 3 * 86_400, 7 * 86_400, 30 * 86_400, 90 * 86_400)

# Why a whole batch was refused, by the status code it was refused with.
REFUSAL_REASONS = {422: "invalid", 409: "conflict"}

HTTP_REQUESTS = Counter(
    "modelmon_http_requests_total",
    "HTTP requests by method, route template (unmatched: not a route) and status code.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "modelmon_http_request_duration_seconds",
    "Time from a request's first byte to its response's last, by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
INGESTED = Counter(
    "modelmon_ingested_records_total",
    "Records of a stored batch by model, kind (prediction, outcome) and result (accepted, duplicate).",
    ["model", "kind", "result"],
)
REJECTED = Counter(
    "modelmon_rejected_records_total",
    "Records of refused batches (nothing stored) by model, kind and reason (invalid, conflict). "
    "Malformed bodies, unknown models and oversized batches are counted by status code in "
    "modelmon_http_requests_total only: their model name is not trusted.",
    ["model", "kind", "reason"],
)
BATCH_SIZE = Histogram(
    "modelmon_ingest_batch_records",
    "Records per stored or refused batch, by kind.",
    ["kind"],
    buckets=BATCH_BUCKETS,
)
LABEL_DELAY = Histogram(
    "modelmon_label_delay_seconds",
    "From a prediction's event time to the arrival of its outcome, per model, observed when the "
    "two are joined (whichever arrived second).",
    ["model"],
    buckets=DELAY_BUCKETS,
)
SNAPSHOT_FAILURES = Counter(
    "modelmon_metrics_snapshot_failures_total",
    "Reads of the stored-state snapshot that failed (the previous snapshot was served).",
)
POOL_CHECKED_OUT = Gauge(
    "modelmon_db_pool_checked_out_connections",
    "Database connections lent out by this process's pool now.",
    multiprocess_mode="livesum",
)
POOL_SIZE = Gauge(
    "modelmon_db_pool_size_connections",
    "Connections this process's pool keeps open (overflow connections come on top).",
    multiprocess_mode="livesum",
)
POOL_MAX = Gauge(
    "modelmon_db_pool_max_connections",
    "Most connections this process's pool may open: pool size plus overflow.",
    multiprocess_mode="livesum",
)

JOB_DURATION = Histogram(
    "modelmon_job_duration_seconds",
    "Duration of one job transaction (aggregation pass, window evaluation batch, alerting pass, "
    "webhook delivery batch, Alertmanager sync).",
    ["job"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
JOB_LAST_SUCCESS = Gauge(
    "modelmon_job_last_success_timestamp_seconds",
    "Unix time of the last successful run of a job in this process.",
    ["job"],
    multiprocess_mode="max",
)
JOB_FAILURES = Counter(
    "modelmon_job_failures_total",
    "Job runs that raised and were retried (model empty), and units of one model's work that raised: "
    "its aggregation, a window evaluation, its alerting (model set; the others went on).",
    ["job", "model"],
)
WEBHOOK_DELIVERIES = Counter(
    "modelmon_webhook_deliveries_total",
    "Webhook delivery attempts by outcome: delivered, retry (failed, another attempt scheduled), "
    "dead (last attempt failed), disabled (the endpoint answered 410).",
    ["outcome"],
)
ALERTMANAGER_PUSHES = Counter(
    "modelmon_alertmanager_pushes_total",
    "Pushes of alert states to Alertmanager by outcome (ok, error).",
    ["outcome"],
)


@contextmanager
def counting_failures(job: str) -> Iterator[None]:
    """Count a run of ``job`` that raises in ``modelmon_job_failures_total`` (and re-raise: the
    caller's loop logs it and retries)."""
    try:
        yield
    except Exception:
        JOB_FAILURES.labels(job=job, model="").inc()
        raise


def count_unit_failure(job: str, model: str) -> None:
    """One unit of ``job`` for ``model`` raised; the job went on with the other units."""
    JOB_FAILURES.labels(job=job, model=model).inc()


def record_job(job: str, seconds: float, finished_at: float) -> None:
    """One successful job run of ``seconds``, finished at Unix time ``finished_at``."""
    JOB_DURATION.labels(job=job).observe(seconds)
    JOB_LAST_SUCCESS.labels(job=job).set(finished_at)


def record_stored_batch(model: str, kind: str, *, accepted: int, duplicates: int, size: int) -> None:
    """A committed ingestion batch of ``size`` records."""
    INGESTED.labels(model=model, kind=kind, result="accepted").inc(accepted)
    INGESTED.labels(model=model, kind=kind, result="duplicate").inc(duplicates)
    BATCH_SIZE.labels(kind=kind).observe(size)


def record_refused_batch(model: str, kind: str, *, reason: str, size: int) -> None:
    """A batch of a registered model refused whole (nothing stored)."""
    REJECTED.labels(model=model, kind=kind, reason=reason).inc(size)
    BATCH_SIZE.labels(kind=kind).observe(size)


def record_label_delays(model: str, delays: list[float]) -> None:
    histogram = LABEL_DELAY.labels(model=model)
    for seconds in delays:
        histogram.observe(max(seconds, 0.0))


@contextmanager
def counting_refusals(model: str, kind: str, size: int) -> Iterator[None]:
    """Count a batch refused inside the block: 422 (invalid) or 409 (conflict)."""
    try:
        yield
    except ApiError as error:
        if error.status_code in REFUSAL_REASONS:
            record_refused_batch(model, kind, reason=REFUSAL_REASONS[error.status_code], size=size)
        raise
