"""``--charts DIR``: three PNG charts of the run, drawn with matplotlib (the ``charts`` extra).

- ``drift.png``: drift score (Wasserstein / reference std, or Jensen-Shannon distance) of each
  input feature per window, with the 0.1 threshold;
- ``performance.png``: realised ROC AUC per window with its 95 % interval (once labelled),
  the label-free estimate beside it, and the alert threshold;
- ``fairness.png``: selection rate P(approve) per age band per window.

Dashed vertical lines mark when each injected problem began. The figures are read from
``GET /v1/models/{name}/evaluations``, the same numbers Grafana would plot.
"""

from __future__ import annotations

import importlib.util
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from service.demo.api import Api
from service.demo.scenario import FEATURES, Plan, Timeline, injections
from service.kernel.states import FigureStatus

if TYPE_CHECKING:
    from matplotlib.axes import Axes

MISSING = (
    "--charts needs matplotlib, which is not installed: install the `charts` extra "
    "(pip install 'modelmon[charts]') or leave out --charts"
)
FINAL = frozenset({FigureStatus.OK, FigureStatus.ALERT})  # statuses of figures computed on enough final data
WIDTH, HEIGHT, DPI = 10.0, 4.8, 100


def _x(moments: Sequence[datetime]) -> npt.NDArray[np.float64]:
    """Moments as matplotlib date numbers (days since its epoch), for an axis shown as UTC dates."""
    from matplotlib import dates

    to_numbers = cast(Callable[[list[datetime]], Any], dates.date2num)  # untyped in matplotlib's stubs
    return np.asarray(to_numbers(list(moments)), dtype=np.float64)


def available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def _series(items: list[dict[str, Any]], key: str) -> dict[str, list[tuple[datetime, dict[str, Any]]]]:
    out: dict[str, list[tuple[datetime, dict[str, Any]]]] = defaultdict(list)
    for item in items:
        if item["value"] is not None:
            out[str(item[key])].append((datetime.fromisoformat(str(item["window_end"])), item))
    return out


def _mark_injections(ax: Axes, plan: Plan, timeline: Timeline, families: set[str]) -> None:
    for injection in injections(plan):
        if injection.family in families:
            at = float(_x([timeline.at(injection.start)])[0])
            ax.axvline(at, color="grey", linestyle="--", linewidth=1)
            ax.annotate(
                injection.name,
                (at, 1.0),
                xycoords=("data", "axes fraction"),
                rotation=90,
                va="top",
                ha="right",
                fontsize=8,
                color="dimgrey",
            )


def _drift(ax: Axes, api: Api, model: str) -> None:
    items = api.evaluations(model, family="drift", metric="drift_score")
    inputs = {name for name, _ in FEATURES}
    for feature, points in sorted(_series(items, "feature").items()):
        if feature in inputs:
            ax.plot(_x([p[0] for p in points]), [p[1]["value"] for p in points], label=feature, linewidth=1.4)
    threshold = next((i["threshold"] for i in items if i["threshold"] is not None), None)
    if threshold is not None:
        ax.axhline(threshold, color="red", linewidth=1, label=f"threshold {threshold:g}")
    ax.set_ylabel("drift score")
    ax.set_title("Drift per input feature (effect size per 1-day window)")


def _performance(ax: Axes, api: Api, model: str) -> None:
    realised = [
        i for i in api.evaluations(model, family="performance", metric="roc_auc") if i["status"] in FINAL
    ]
    estimated = api.evaluations(model, family="estimated_performance", metric="roc_auc")
    ends = _x([datetime.fromisoformat(str(i["window_end"])) for i in realised])
    ax.plot(
        ends, [i["value"] for i in realised], color="tab:blue", label="realised ROC AUC (labelled windows)"
    )
    lows = [i["ci_low"] if i["ci_low"] is not None else i["value"] for i in realised]
    highs = [i["ci_high"] if i["ci_high"] is not None else i["value"] for i in realised]
    ax.fill_between(ends, lows, highs, color="tab:blue", alpha=0.2, label="95 % interval")
    shown = [i for i in estimated if i["value"] is not None]
    ax.plot(
        _x([datetime.fromisoformat(str(i["window_end"])) for i in shown]),
        [i["value"] for i in shown],
        color="tab:orange",
        linestyle=":",
        label="estimated ROC AUC (no labels needed)",
    )
    threshold = next((i["threshold"] for i in realised if i["threshold"] is not None), None)
    if threshold is not None:
        ax.axhline(threshold, color="red", linewidth=1, label=f"alert below {threshold:.3f}")
    ax.set_ylabel("ROC AUC")
    ax.set_title("Performance: realised once the late labels arrive, estimated at once")


def _fairness(ax: Axes, api: Api, model: str) -> None:
    items = api.evaluations(model, family="fairness", metric="selection_rate", attribute="age_band")
    for group, points in sorted(_series(items, "group").items()):
        ax.plot(
            _x([p[0] for p in points]), [p[1]["value"] for p in points], label=f"age {group}", linewidth=1.4
        )
    ax.set_ylabel("selection rate P(approve)")
    ax.set_title("Selection rate per age band")


def write_charts(api: Api, model: str, plan: Plan, timeline: Timeline, folder: Path) -> list[Path]:
    """Draw the three charts into ``folder`` (created if needed); returns their paths."""
    from matplotlib.figure import Figure  # the object API: no global pyplot state, no display

    folder.mkdir(parents=True, exist_ok=True)
    drawn = []
    for name, draw, families in (
        ("drift.png", _drift, {"drift"}),
        ("performance.png", _performance, {"performance"}),
        ("fairness.png", _fairness, {"fairness"}),
    ):
        figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI, layout="constrained")
        ax = figure.subplots()
        draw(ax, api, model)
        _mark_injections(ax, plan, timeline, families)
        ax.xaxis_date(tz=UTC)
        ax.set_xlabel("end of window (simulated time, UTC)")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
        figure.autofmt_xdate()
        path = folder / name
        figure.savefig(path, format="png")
        drawn.append(path)
    return drawn
