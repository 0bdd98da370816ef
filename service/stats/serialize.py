"""Profiles to and from JSON-safe dicts and compact bytes (zlib-compressed canonical JSON).

The dict form names every field (readable, diffable, stable under field reordering);
the bytes form compresses it. Measured on the credit-scoring layout (15 numeric features
with 100 bins, 5 categorical, two protected attributes and one intersection, 18 groups):
≈ 58-65 kB of JSON, 25-29 kB as bytes; most of it is the per-bin float sums. Floats are
written with Python's shortest round-trip repr, so a round trip is exact.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

import orjson

from service.stats.aggregates import BinaryCounts, MulticlassCounts, RegressionSums, ScoreHistogram
from service.stats.outcomes import GroupKey, Outcomes
from service.stats.profile import AttributionSummary, CategoricalSummary, NumericSummary, Profile

FORMAT = 1


def _numeric_to_dict(summary: NumericSummary) -> dict[str, Any]:
    out = {f.name: getattr(summary, f.name) for f in fields(summary)}
    out["bins"] = list(summary.bins)
    out["bin_sums"] = list(summary.bin_sums)
    return out


def _numeric_from_dict(data: Mapping[str, Any]) -> NumericSummary:
    return NumericSummary(**{**data, "bins": tuple(data["bins"]), "bin_sums": tuple(data["bin_sums"])})


def _categorical_to_dict(summary: CategoricalSummary) -> dict[str, Any]:
    return {
        "count": summary.count,
        "missing": summary.missing,
        "counts": list(summary.counts),
        "unseen": summary.unseen,
    }


def _categorical_from_dict(data: Mapping[str, Any]) -> CategoricalSummary:
    return CategoricalSummary(data["count"], data["missing"], tuple(data["counts"]), data["unseen"])


def _summary_to_dict(summary: NumericSummary | CategoricalSummary | None) -> dict[str, Any] | None:
    if summary is None:
        return None
    if isinstance(summary, NumericSummary):
        return {"kind": "numeric", **_numeric_to_dict(summary)}
    return {"kind": "categorical", **_categorical_to_dict(summary)}


def _summary_from_dict(data: Mapping[str, Any] | None) -> NumericSummary | CategoricalSummary | None:
    if data is None:
        return None
    body = {k: v for k, v in data.items() if k != "kind"}
    return _numeric_from_dict(body) if data["kind"] == "numeric" else _categorical_from_dict(body)


def _outcomes_to_dict(key: GroupKey, outcomes: Outcomes) -> dict[str, Any]:
    out: dict[str, Any] = {"group": [list(pair) for pair in key]}
    for name in ("binary", "scores", "multiclass", "regression"):
        aggregate = getattr(outcomes, name)
        if aggregate is not None:
            out[name] = aggregate.to_dict()
    return out


def _outcomes_from_dict(data: Mapping[str, Any]) -> tuple[GroupKey, Outcomes]:
    key: GroupKey = tuple((str(a), str(v)) for a, v in data["group"])
    return key, Outcomes(
        binary=BinaryCounts.from_dict(data["binary"]) if "binary" in data else None,
        scores=ScoreHistogram.from_dict(data["scores"]) if "scores" in data else None,
        multiclass=MulticlassCounts.from_dict(data["multiclass"]) if "multiclass" in data else None,
        regression=RegressionSums.from_dict(data["regression"]) if "regression" in data else None,
    )


def profile_to_dict(profile: Profile) -> dict[str, Any]:
    """JSON-safe dict (no NaN: empty extremes are null)."""
    return {
        "format": FORMAT,
        "layout_hash": profile.layout_hash,
        "rows": profile.rows,
        "numeric": {name: _numeric_to_dict(s) for name, s in profile.numeric.items()},
        "categorical": {name: _categorical_to_dict(s) for name, s in profile.categorical.items()},
        "prediction": _summary_to_dict(profile.prediction),
        "score": _summary_to_dict(profile.score),
        "outcomes": [_outcomes_to_dict(key, value) for key, value in profile.outcomes.items()],
        "attributions": {name: [s.count, s.abs_sum] for name, s in profile.attributions.items()},
    }


def profile_from_dict(data: Mapping[str, Any]) -> Profile:
    if data.get("format") != FORMAT:
        raise ValueError(f"unsupported profile format {data.get('format')!r}")
    score = _summary_from_dict(data["score"])
    if score is not None and not isinstance(score, NumericSummary):
        raise ValueError("a score summary must be numeric")
    return Profile(
        layout_hash=data["layout_hash"],
        rows=data["rows"],
        numeric={name: _numeric_from_dict(s) for name, s in data["numeric"].items()},
        categorical={name: _categorical_from_dict(s) for name, s in data["categorical"].items()},
        prediction=_summary_from_dict(data["prediction"]),
        score=score,
        outcomes=dict(_outcomes_from_dict(item) for item in data["outcomes"]),
        attributions={
            name: AttributionSummary(int(count), float(total))
            for name, (count, total) in data["attributions"].items()
        },
    )


def profile_to_bytes(profile: Profile, *, level: int = 1) -> bytes:
    """zlib-compressed compact JSON.

    orjson writes the same shortest round-trip floats as ``json`` ~4x faster; zlib level 1
    costs ~0.3 ms against level 6's ~2 ms for ~10% more bytes. Together a profile takes
    ~1.5 ms instead of ~5 ms to write (measured on the 20-feature credit layout).
    """
    return zlib.compress(orjson.dumps(profile_to_dict(profile)), level)


def profile_from_bytes(blob: bytes) -> Profile:
    return profile_from_dict(orjson.loads(zlib.decompress(blob)))
