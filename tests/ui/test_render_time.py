"""One model page with 60 windows × 20 features renders fast (docs/ui.md states the figure)."""

from __future__ import annotations

import statistics
import time
from typing import Any

import pytest

from tests.alerting.support import Harness, drift, figure

FEATURES = [f"num_{i:02d}" for i in range(15)] + [f"cat_{i}" for i in range(5)]
GROUPS = {"sex": ["F", "M"], "age_band": ["18-34", "35-64", "65+"]}
GROUPS["age_band×sex"] = [f"{a}|{s}" for a in GROUPS["age_band"] for s in GROUPS["sex"]]
PERFORMANCE = ["accuracy", "precision", "recall", "f1", "specificity", "roc_auc", "pr_auc", "brier", "ece"]
DISPARITIES = [
    "statistical_parity_difference",
    "disparate_impact_ratio",
    "equal_opportunity_difference",
    "equalized_odds_difference",
    "predictive_parity_difference",
]


def window(hour: int) -> list[dict[str, Any]]:
    """The ~190 figures the engine stores for one window of a 20-feature binary model."""
    wave = (hour % 7) / 70
    rows = [drift(0.02 + wave * (i % 4), feature=f) for i, f in enumerate([*FEATURES, "prediction", "score"])]
    rows += [figure("drift", "p_value", 0.5, 0.05, "ok", feature=f) for f in FEATURES]
    rows += [
        figure("data_quality", m, 0.01, 0.1, "ok", feature=f)
        for f in FEATURES
        for m in ("missing_share", "out_of_range_share", "unseen_share")
    ]
    status = "provisional" if hour > 56 else "ok"
    rows += [figure("performance", m, 0.7 + wave, 0.6, status) for m in PERFORMANCE]
    rows += [figure("estimated_performance", m, 0.71, 0.6, "ok") for m in PERFORMANCE[:6]]
    for attribute, groups in GROUPS.items():
        rows += [
            figure("fairness", m, 0.4 + wave, None, "ok", attribute=attribute, group=g)
            for g in groups
            for m in ("selection_rate", "tpr", "fpr", "ppv")
        ]
        rows += [figure("fairness", m, 0.85, 0.8, "ok", attribute=attribute) for m in DISPARITIES]
        rows.append(figure("fairness", "representation_shift", 0.02, 0.1, "ok", attribute=attribute))
    return rows


@pytest.mark.slow
def test_a_model_page_of_60_windows_and_20_features_renders_in_under_100_ms(h: Harness) -> None:
    for hour in range(1, 61):
        h.store(hour, window(hour))
    first = h.client.get("/ui/models/credit")
    assert first.status_code == 200 and first.text.count('<circle class="point') > 60 * 6
    wall, cpu = [], []
    for _ in range(7):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = h.client.get("/ui/models/credit")
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        assert response.status_code == 200
    print(
        f"model page, 60 windows x 20 features, {len(first.content)} bytes: wall best "
        f"{min(wall) * 1e3:.1f} ms, median {statistics.median(wall) * 1e3:.1f} ms; "
        f"CPU of this process best {min(cpu) * 1e3:.1f} ms, median {statistics.median(cpu) * 1e3:.1f} ms"
    )
    # Judged on this process's CPU time (every thread: the request runs in the server's
    # threadpool), which waiting for a core shared with other jobs does not inflate; the wall
    # time on 2 busy cores varies 3x from run to run.
    assert min(cpu) < 0.1
