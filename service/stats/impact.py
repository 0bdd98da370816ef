"""Per-group impact ratio: each group's selection rate over the highest group's.

IR_g = SR_g / SR_ref, where SR_g = selected_g / n_g and ref is the group with the highest
selection rate among those given (ties: the first name in sort order). The reference group's
own ratio is 1 with no interval. Other groups get the Katz log interval of a ratio of two
independent proportions (``intervals.katz_ratio``) at ``confidence``, not capped at 1: the
observed highest group need not have the highest true rate. With SR_ref = 0 (nobody selected)
every ratio is 0/0: no value. The four-fifths rule reads IR_g < 0.8; the engine's
``disparate_impact_ratio`` is the smallest of these ratios (``fairness.rate_ratio``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from service.stats.intervals import katz_ratio


@dataclass(frozen=True, slots=True)
class ImpactRatio:
    """``n``: the group's rows; ``reference``: the group divided by (None without a value)."""

    group: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    reference: str | None


def impact_ratios(*, groups: Mapping[str, tuple[int, int]], confidence: float) -> tuple[ImpactRatio, ...]:
    """``groups``: name → (selected, rows), rows > 0; one ratio per group, by name."""
    names = sorted(groups)
    if not names:
        return ()
    ref = max(names, key=lambda g: (groups[g][0] / groups[g][1], -names.index(g)))
    x_ref, n_ref = groups[ref]
    out = []
    for name in names:
        x, n = groups[name]
        if x_ref == 0:
            out.append(ImpactRatio(name, None, None, None, n, None))
        elif name == ref:
            out.append(ImpactRatio(name, 1.0, None, None, n, ref))
        else:
            low, high = katz_ratio(
                successes_a=x, trials_a=n, successes_b=x_ref, trials_b=n_ref, confidence=confidence
            )
            out.append(ImpactRatio(name, (x / n) / (x_ref / n_ref), low, high, n, ref))
    return tuple(out)
