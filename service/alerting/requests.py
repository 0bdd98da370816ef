"""Retraining requests: the policy's decision, the evidence bundle, the webhook.

One request per (model, trigger window): the idempotency key is unique in
``retrain_requests`` and in the webhook outbox, so a retried pass never starts two trainings.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from service.alerting import repository
from service.alerting.notify import PassContext
from service.alerting.retraining import OpenAlert, RetrainDecision, decide
from service.kernel.states import FigureStatus
from service.monitors.plans import AlertingPolicy
from service.registry import queries as registry
from service.storage.alerting_tables import Alert
from service.webhooks import service as webhooks

TOP_DRIFTED = 5


def consider_retraining(ctx: PassContext, model_id: int, policy: AlertingPolicy, alerts: list[Alert]) -> int:
    """Request retraining of ``model_id`` when its policy says so, given its open ``alerts``;
    1 when a request was made."""
    views = [
        OpenAlert(a.id, a.family, a.state, a.version_id, a.fired_at, a.window_start, a.window_end)
        for a in alerts
    ]
    decision, _why = decide(
        policy.retraining, views, repository.last_retrain_at(ctx.session, model_id), ctx.now
    )
    if decision is None:
        return 0
    model = ctx.name_of(model_id)
    key = f"retrain:{model}:{decision.window_end.isoformat()}"
    evidence = evidence_of(ctx, model_id, policy, decision, [a for a in alerts if a.id in decision.reasons])
    evidence["idempotency_key"] = key
    row = {
        "model_id": model_id,
        "version_id": decision.version_id,
        "idempotency_key": key,
        "window_start": decision.window_start,
        "window_end": decision.window_end,
        "evidence": evidence,
        "created_at": ctx.now,
    }
    if not repository.add_retrain(ctx.session, row):
        return 0
    webhooks.enqueue(
        ctx.session, event_type="model.retrain_requested", data=evidence, now=ctx.now, idempotency_key=key
    )
    return 1


def _reason(ctx: PassContext, alert: Alert) -> dict[str, Any]:
    found = repository.history(ctx.session, alert, upto=alert.window_end or ctx.now, limit=1)
    figure = found[0][1] if found else None
    return {
        "alert_id": alert.id,
        "alert": f"{ctx.base_url}/v1/alerts/{alert.id}",
        "family": alert.family,
        "metric": alert.metric,
        "feature": alert.feature or None,
        "attribute": alert.attribute or None,
        "group": alert.group or None,
        "value": alert.value,
        "threshold": alert.threshold,
        "ci_low": None if figure is None else figure.ci_low,
        "ci_high": None if figure is None else figure.ci_high,
        "n": None if figure is None else figure.n,
        "fired_at": None if alert.fired_at is None else alert.fired_at.isoformat(),
        "summary": alert.summary,
    }


def _window_facts(
    ctx: PassContext, decision: RetrainDecision
) -> tuple[dict[str, Any], list[dict[str, Any]], float | None]:
    """(reference hashes, top drifted features, label coverage) of the trigger window's run."""
    run = repository.latest_run(ctx.session, decision.version_id, decision.window_start, decision.window_end)
    if run is None:
        return {}, [], None
    drifted = [
        f for f in repository.figures_of(ctx.session, [run.id]).get(run.id, [])
        if f.family == "drift" and f.metric == "drift_score" and f.status == FigureStatus.ALERT
        and f.value is not None
    ]  # fmt: skip
    drifted.sort(key=lambda f: f.value or 0.0, reverse=True)
    top = [
        {"feature": f.feature, "drift_score": f.value, "threshold": f.threshold}
        for f in drifted[:TOP_DRIFTED]
    ]
    hashes = {
        "layout_hash": run.layout_hash,
        "reference_hash": run.reference_hash,
        "config_hash": run.config_hash,
    }
    coverage = run.label_coverage
    return hashes, top, coverage


def evidence_of(
    ctx: PassContext, model_id: int, policy: AlertingPolicy, decision: RetrainDecision, reasons: list[Alert]
) -> dict[str, Any]:
    """What a retraining pipeline needs to act and an auditor to check (docs/alerting.md)."""
    model = ctx.name_of(model_id)
    hashes, top, coverage = _window_facts(ctx, decision)
    window = {"start": decision.window_start.isoformat(), "end": decision.window_end.isoformat()}
    export = urlencode({"from": window["start"], "to": window["end"], "format": "ndjson"})
    return {
        "model": model,
        "version": ctx.version_of(decision.version_id),
        "requested_at": ctx.now.isoformat(),
        "reasons": [_reason(ctx, alert) for alert in reasons],
        "window": window,
        "reference": {
            "kind": policy.reference_kind,
            "reference_id": registry.active_reference_id(ctx.session, decision.version_id),
            **hashes,
        },
        "top_drifted_features": top,
        "label_coverage": coverage,
        "export": f"{ctx.base_url}/v1/models/{model}/export?{export}",
    }
