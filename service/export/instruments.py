"""The service-health instruments other packages record into (prometheus-client, default
registry). Model-health gauges are not here: a collector reads them from stored evaluations
at scrape time (``service/export``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
)
JOB_FAILURES = Counter("modelmon_job_failures_total", "Job runs that raised and were retried.", ["job"])
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


def record_job(job: str, seconds: float, finished_at: float) -> None:
    """One successful job run of ``seconds``, finished at Unix time ``finished_at``."""
    JOB_DURATION.labels(job=job).observe(seconds)
    JOB_LAST_SUCCESS.labels(job=job).set(finished_at)
