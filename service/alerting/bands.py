"""The hysteresis band of a figure: how far past its threshold, on the healthy side, a firing
value must get back before the alert resolves.

band = ``resolve_margin`` × the *room* between the threshold and where a healthy value lives:

- a threshold relative to the reference (performance without an explicit bound:
  reference − ``max_drop``; missing rate: reference rate + ``max_missing_rate_increase``):
  the room is the allowed change itself, so a resolve never asks for better than the
  reference. AUC reference 0.85, max_drop 0.05 → fires below 0.80, resolves at ≥ 0.81.
- any other upper bound (drift score, shares, fairness differences, error bounds): the room
  is the threshold itself (the best value is 0). Drift 0.1 → resolves below 0.08.
- any other lower bound (AUC, accuracy, impact ratio, nDCG bounds): the best value is 1, the
  room is 1 − threshold. Impact ratio 0.8 → resolves at ≥ 0.84.
"""

from __future__ import annotations

from service.monitors.schemas import MonitorConfig

RELATIVE_FAMILIES = frozenset({"performance", "estimated_performance"})


def hysteresis_band(
    config: MonitorConfig, margin: float, family: str, metric: str, threshold: float, direction: str
) -> float:
    """The band, in the metric's units (≥ 0)."""
    if family in RELATIVE_FAMILIES and metric not in config.performance.thresholds:
        room = config.performance.max_drop
    elif family == "data_quality" and metric == "missing_rate":
        room = config.data_quality.max_missing_rate_increase
    elif direction == "high":
        room = abs(threshold)
    else:
        room = max(1.0 - threshold, 0.0)
    return margin * room
