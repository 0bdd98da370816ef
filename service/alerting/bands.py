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

from service.monitors.plans import RelativeThresholds


def hysteresis_band(
    relative: RelativeThresholds, margin: float, family: str, metric: str, threshold: float, direction: str
) -> float:
    """The band, in the metric's units (≥ 0)."""
    room = relative.room(family, metric)
    if room is None:
        room = abs(threshold) if direction == "high" else max(1.0 - threshold, 0.0)
    return margin * room
