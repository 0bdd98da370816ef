"""The label set of an alert, shared by the API, webhooks, Alertmanager pushes and the
shipped Prometheus rules (``helm/modelmon/files/prometheus-rules.yml``), so that an alert
pushed by modelmon and the same condition seen by a Prometheus rule deduplicate in
Alertmanager."""

from __future__ import annotations

from typing import Final

# One alertname per family; the Prometheus rules use the same names.
ALERT_NAMES: Final[dict[str, str]] = {
    "drift": "ModelmonFeatureDrift",
    "data_quality": "ModelmonDataQuality",
    "performance": "ModelmonPerformanceDegraded",
    "estimated_performance": "ModelmonEstimatedPerformanceDrop",
    "fairness": "ModelmonFairnessGap",
    "explanation": "ModelmonExplanationDrift",
    "no_data": "ModelmonNoData",
}

# Label names in a fixed order; empty ones are left out of the set.
LABEL_NAMES: Final[tuple[str, ...]] = (
    "alertname",
    "model",
    "version",
    "family",
    "metric",
    "feature",
    "attribute",
    "group",
    "severity",
)


def alert_labels(
    *,
    family: str,
    model: str,
    version: str | None,
    metric: str,
    feature: str = "",
    attribute: str = "",
    group: str = "",
    severity: str,
) -> dict[str, str]:
    """The alert's labels: ``alertname`` from the family, then the subject; no empty values."""
    values = {
        "alertname": ALERT_NAMES.get(family, "ModelmonAlert"),
        "model": model,
        "version": version or "",
        "family": family,
        "metric": metric,
        "feature": feature,
        "attribute": attribute,
        "group": group,
        "severity": severity,
    }
    return {name: values[name] for name in LABEL_NAMES if values[name]}
