"""Is an uploaded profile one the server could have built itself on this layout?

A profile is merged into stored windows as it is, so a body that deserialises is not enough:
its shape must be the layout's (same columns, same number of bins and categories, groups of
declared attributes and values), every count a non-negative integer and every sum finite.
Each check returns the problem as text, or None.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from service.stats.layout import Layout
from service.stats.profile import CategoricalSummary, NumericSummary, Profile, merge_all
from service.stats.serialize import profile_from_dict, profile_to_dict

# A profile of the 20-feature credit layout is ~60 kB of JSON; 100 features with 1,000
# categories each stay under 4 MB. More than this is not a profile of a modelmon layout.
MAX_PROFILE_JSON_BYTES = 8 * 1024 * 1024


def decode(text: str) -> tuple[dict[str, Any], str]:
    """(the profile's JSON dict, sha256 of its canonical JSON) of a base64 body of
    ``serialize.profile_to_bytes``; ValueError saying what is wrong."""
    try:
        compressed = base64.b64decode(text, validate=True)
        inflater = zlib.decompressobj()
        raw = inflater.decompress(compressed, MAX_PROFILE_JSON_BYTES)
    except (binascii.Error, zlib.error) as error:
        raise ValueError(f"not base64 of a zlib-compressed profile ({error})") from None
    if inflater.unconsumed_tail:
        raise ValueError(f"the profile is over {MAX_PROFILE_JSON_BYTES} bytes of JSON")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"the profile is not JSON ({error})") from None
    if not isinstance(data, dict):
        raise ValueError("the profile must be a JSON object")
    return data, hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _numbers(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _numbers(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for item in value:
            yield from _numbers(item, path)
    elif isinstance(value, (int, float)):
        yield path, value


def negative_count(data: Mapping[str, Any]) -> str | None:
    """Integers in a profile are counts (sums and extremes are written as floats)."""
    for path, number in _numbers(data):
        if isinstance(number, int) and not isinstance(number, bool) and number < 0:
            return f"{path} is a negative count ({number})"
    return None


def parse(data: Mapping[str, Any], layout: Layout) -> Profile:
    """The profile of ``data`` if it fits ``layout``; ValueError naming the first misfit."""
    problem = negative_count(data)
    if problem is not None:
        raise ValueError(problem)
    try:
        profile = profile_from_dict(data)
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"not a modelmon profile ({type(error).__name__}: {error})") from None
    if profile.layout_hash != layout.content_hash:
        raise ValueError("built on another layout (layout_hash differs): fetch the layout again")
    problem = misfit(profile, layout)
    if problem is not None:
        raise ValueError(problem)
    try:
        profile_to_dict(merge_all([Profile.empty(layout), profile], layout=layout))
    except (TypeError, ValueError, IndexError) as error:
        raise ValueError(f"does not merge with the layout's profiles ({error})") from None
    return profile


def _summary_shape(summary: NumericSummary | CategoricalSummary | None) -> tuple[str, int, int] | None:
    if summary is None:
        return None
    if isinstance(summary, NumericSummary):
        return ("numeric", len(summary.bins), len(summary.bin_sums))
    return ("categorical", len(summary.counts), 0)


def misfit(profile: Profile, layout: Layout) -> str | None:
    """Where the profile's shape differs from the layout's empty profile, or None."""
    empty = Profile.empty(layout)
    for part in ("numeric", "categorical"):
        mine, theirs = getattr(profile, part), getattr(empty, part)
        if set(mine) != set(theirs):
            return f"{part} columns {sorted(mine)} differ from the layout's {sorted(theirs)}"
        for name, summary in mine.items():
            if _summary_shape(summary) != _summary_shape(theirs[name]):
                return f"{part} column {name!r} has a different number of bins than the layout"
    for part in ("prediction", "score"):
        if _summary_shape(getattr(profile, part)) != _summary_shape(getattr(empty, part)):
            return f"the {part} summary does not fit the layout"
    # Absent is allowed (a client older than the multivariate summary): its windows then
    # have no multivariate figure (profile.py). Present, it must fit the error bins.
    mine = profile.multivariate
    if mine is not None and _summary_shape(mine) != _summary_shape(empty.multivariate):
        return "the multivariate summary does not fit the layout"
    return _group_misfit(profile, layout)


def _group_misfit(profile: Profile, layout: Layout) -> str | None:
    values = {a.name: set(a.group_names) for a in layout.attributes}
    groupings = {(), *((name,) for name in values), *layout.intersections}
    for key in profile.outcomes:
        names = tuple(name for name, _ in key)
        if names not in groupings:
            return f"outcome group {list(names)} is not an attribute or declared intersection"
        for name, value in key:
            if value not in values[name]:
                return f"outcome group {name}={value!r} is not a group of the layout"
    return None
