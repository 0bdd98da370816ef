"""Fairness of regression and multiclass models: false alerts on quiet data, power on gaps of
known size, through the real path (``build_profile`` → ``evaluate_window`` with the monitor
configuration), one independent window per draw.

Data: two protected attributes, ``sex`` (F / M, half each) and ``band`` (a 50 %, b 30 %, c 20 %),
and their intersection: 3 groupings, so the fairness family of a window holds
3 × (disparities with a bound) decisions (× 3 classes for the multiclass model).

- Regression: label ~ N(100, 20²), prediction = label + N(0, 1) (error sd 1, the target's unit).
  Bounds: ``max_mean_error_difference`` and ``max_mae_difference`` = 0.25 (a quarter of the
  error sd). Gap: women's errors N(δ, 1), δ = 0.3 or 0.5 (the true bias difference).
- Multiclass (approve / refer / decline, truth 50 / 30 / 20 %, the model right 70 % of the time
  and otherwise uniform): default bounds (parity and equal opportunity difference 0.1, impact
  ratio 0.8, equalized odds 0.1, predictive parity 0.1). Gap: a share s of the women the model
  would approve are declined instead (s = 0.25 or 0.4: the decline selection rate of women
  moves by about 0.11 or 0.18, against the bound 0.1).

Printed per task and rows per window: *quiet* = windows per 1,000 with any fairness disparity in
status ``alert`` on data without a group difference, and *power* = share of gap windows (drawn
apart from the quiet ones) whose
target disparity (mean_error_difference of sex; statistical_parity_difference of "decline"
for sex) alerts.

    python -m benchmarks.fairness_tasks [--windows 500] [--power-windows 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from service.monitors.schemas import MonitorConfig
from service.stats.layout import Batch, Layout, fit_layout
from service.stats.profile import Profile, build_profile
from service.windows.figures import Figure, evaluate_window
from service.windows.policy import evaluation_policy

CLASSES = ("approve", "refer", "decline")
REFERENCE_ROWS = 20_000
REGRESSION = MonitorConfig.model_validate(
    {"fairness": {"max_mean_error_difference": 0.25, "max_mae_difference": 0.25}}
)
MULTICLASS = MonitorConfig()
GAPS = {"regression": (0.3, 0.5), "multiclass_classification": (0.25, 0.4)}
TARGET = {"regression": ("mean_error_difference", None), "multiclass_classification": (
    "statistical_parity_difference", "decline")}  # fmt: skip


def draw(task: str, rows: int, seed: int, gap: float = 0.0) -> Batch:
    """One batch (module doc); ``gap``: δ for regression, s for multiclass, on women only."""
    rng = np.random.default_rng(seed)
    sex = np.where(rng.random(rows) < 0.5, "F", "M").astype(object)
    band = np.array(["a", "b", "c"], dtype=object)[rng.choice(3, rows, p=[0.5, 0.3, 0.2])]
    women = sex == "F"
    if task == "regression":
        label = rng.normal(100.0, 20.0, rows)
        predictions: object = label + rng.normal(np.where(women, gap, 0.0), 1.0)
        labels: object = label
    else:
        actual = rng.choice(3, rows, p=[0.5, 0.3, 0.2])
        predicted = np.where(rng.random(rows) < 0.7, actual, rng.integers(0, 3, rows))
        predicted[women & (predicted == 0) & (rng.random(rows) < gap)] = 2
        predictions = np.array(CLASSES, dtype=object)[predicted]
        labels = np.array(CLASSES, dtype=object)[actual]
    return Batch(
        rows=rows,
        numeric={"income": rng.normal(50.0, 10.0, rows)},
        predictions=predictions,  # type: ignore[arg-type]
        labels=labels,  # type: ignore[arg-type]
        attributes={"sex": sex, "band": band},
    )


def setup(task: str) -> tuple[Layout, Profile]:
    reference = draw(task, REFERENCE_ROWS, seed=1)
    classes = CLASSES if task == "multiclass_classification" else None
    layout = fit_layout(
        task=task,  # type: ignore[arg-type]
        reference=reference,
        classes=classes,
        intersections=[("sex", "band")],
        multivariate=False,
    )
    return layout, build_profile(layout, reference)


def _fairness(layout: Layout, reference: Profile, batch: Batch, config: MonitorConfig) -> list[Figure]:
    result = evaluate_window(
        layout=layout,
        reference=reference,
        window=build_profile(layout, batch),
        policy=evaluation_policy(config),
        final=True,
    )
    return [f for f in result.figures if f.family == "fairness" and f.group is None]


def _is_target(task: str, f: Figure) -> bool:
    metric, feature = TARGET[task]
    return f.metric == metric and f.attribute == "sex" and f.feature == feature


def quiet_rate(task: str, rows: int, windows: int) -> tuple[float, float]:
    """(windows per 1,000 with any disparity alerting on quiet data, seconds per window)."""
    layout, reference = setup(task)
    config = REGRESSION if task == "regression" else MULTICLASS
    started = time.perf_counter()
    quiet = sum(
        any(f.status == "alert" and f.metric != "representation_shift" for f in _fairness(
            layout, reference, draw(task, rows, seed=1_000 + w), config))
        for w in range(windows)
    )  # fmt: skip
    return 1_000 * quiet / windows, (time.perf_counter() - started) / windows


def power(task: str, rows: int, windows: int, gap: float) -> float:
    """Share of windows with the gap whose target disparity alerts."""
    layout, reference = setup(task)
    config = REGRESSION if task == "regression" else MULTICLASS
    hits = sum(
        any(_is_target(task, f) and f.status == "alert" for f in _fairness(
            layout, reference, draw(task, rows, seed=100_000 + w, gap=gap), config))
        for w in range(windows)
    )  # fmt: skip
    return hits / windows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=500)
    parser.add_argument("--power-windows", type=int, default=200)
    args = parser.parse_args()
    print(f"{'task':>26} {'rows':>7} {'quiet /1000':>12} {'s/window':>9}  power at each gap")
    for task, gaps in GAPS.items():
        for rows in (2_000, 10_000):
            quiet, cost = quiet_rate(task, rows, args.windows)
            powers = "  ".join(f"{g}: {power(task, rows, args.power_windows, g):.3f}" for g in gaps)
            print(f"{task:>26} {rows:>7} {quiet:>12.1f} {cost:>9.3f}  {powers}")


if __name__ == "__main__":
    main()
