"""Setting the stage through the public API: the model, its reference, its monitor and a
webhook endpoint pointing at the demo's receiver (docs/demo.md walks through each body)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from service.demo.api import Api, DemoError
from service.demo.scenario import ATTRIBUTES, DAY, FEATURES, HOUR, Plan, Timeline, World

REFERENCE_ROWS = 10_000
EVENTS = ["alert.firing", "alert.resolved", "model.retrain_requested", "incident.opened", "incident.resolved"]
MINUTE = 60


@dataclass(frozen=True, slots=True)
class Grid:
    """The monitor's windows in server seconds (window, step, bucket)."""

    window: int
    step: int
    bucket: int


def grid_for(timeline: Timeline) -> Grid:
    """1-day windows every 6 h over 1 h buckets on the demo's own server; against a real-time
    server a simulated day is short, so windows are one day long, tumbling, over 1 min buckets
    (the smallest bucket modelmon takes)."""
    if timeline.scale == 1.0:
        return Grid(window=int(DAY), step=int(6 * HOUR), bucket=int(HOUR))
    day = max(MINUTE, round(timeline.seconds(DAY) / MINUTE) * MINUTE)
    return Grid(window=day, step=day, bucket=MINUTE)


def registration(name: str, version: str) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "task": "binary_classification",
        "features": [{"name": feature, "type": kind} for feature, kind in FEATURES],
        "protected_attributes": list(ATTRIBUTES),
        "positive_label": 1,
        "metadata": {
            "owner": "risk-ml",
            "source": "modelmon demo",
            "meaning": "1 = approve (expected to repay)",
        },
    }


def monitor_config(plan: Plan, timeline: Timeline, per_day: float) -> dict[str, Any]:
    """The monitor: drift at α 0.01 and effect 0.1; performance 0.05 below the reference,
    except ECE, bounded at 0.1 (ECE is biased upward in small windows, ≈ 0.8·√(p(1−p)·bins/n):
    ~0.04 in the part-day windows at the start, against the reference's 0.01 + 0.05);
    selection-rate parity 0.1 and impact ratio 0.8 per attribute (no intersections: at a few
    thousand applications a day an age band × sex cell holds ~100, too few for a 0.1 gap to
    stand out of sampling noise); label-based gaps 0.15 for the same reason. Performance needs
    half a day of labelled applications, so the part-day windows at the very start (a quarter
    of a day of traffic) are ``insufficient_data`` rather than noisy: a false performance
    alert there would request retraining and start the cool-down."""
    grid = grid_for(timeline)

    def span(scenario_seconds: float, floor: int = MINUTE) -> int:
        return max(floor, int(timeline.seconds(scenario_seconds)) // MINUTE * MINUTE)

    return {
        "window": grid.window,
        "step": grid.step,
        "bucket": grid.bucket,
        "label_wait": span(plan.end / 2),
        "drift": {"alpha": 0.01, "numeric_threshold": 0.1, "categorical_threshold": 0.1},
        "performance": {
            "max_drop": 0.05,
            "min_labelled": max(200, round(per_day / 2)),
            "thresholds": {"ece": {"max": 0.1}},
        },
        "fairness": {
            "min_group_size": 100,
            "intersections": [],
            "max_parity_difference": 0.1,
            "min_impact_ratio": 0.8,
            "max_equal_opportunity_difference": 0.15,
            "max_equalized_odds_difference": 0.15,
            "max_predictive_parity_difference": 0.15,
        },
        "alerting": {"no_data_after": span(DAY, floor=10 * MINUTE)},
        "retraining": {"performance_firing_for": span(12 * HOUR), "cooldown": span(14 * DAY)},
    }


def reference_rows(world: World, rows: int = REFERENCE_ROWS) -> list[dict[str, Any]]:
    """A validation sample from before the story starts, with its known outcomes."""
    batch = world.applicants(np.zeros(rows))
    return [
        {
            "features": batch.features(i),
            "prediction": int(batch.decision[i]),
            "score": round(float(batch.score[i]), 4),
            "label": int(batch.label[i]),
            "attributes": batch.attributes(i),
        }
        for i in range(rows)
    ]


@dataclass(frozen=True, slots=True)
class Stage:
    model: str
    version: str
    endpoint_id: int | None
    secret: str | None
    webhook_problem: str | None


def set_stage(
    api: Api, world: World, timeline: Timeline, name: str, per_day: float, receiver_url: str | None
) -> Stage:
    """Register, configure, upload the reference and subscribe the receiver, in that order (a
    monitor set after the reference would refit its bins and fold everything again)."""
    version = timeline.start.strftime("%Y-%m-%d")
    api.post("/v1/models", registration(name, version))
    api.put(f"/v1/models/{name}/monitor", monitor_config(world.plan, timeline, per_day))
    api.post(f"/v1/models/{name}/reference", {"version": version, "rows": reference_rows(world)})
    if receiver_url is None:
        return Stage(name, version, None, None, "no receiver was started")
    hook = {"url": receiver_url, "events": EVENTS, "description": f"modelmon demo receiver for {name}"}
    try:
        created = api.post("/v1/webhooks", hook)
    except DemoError as error:  # e.g. a server whose SSRF policy refuses loopback
        return Stage(name, version, None, None, str(error))
    return Stage(name, version, int(created["id"]), str(created["secret"]), None)
