"""Merge laws of profiles (hypothesis): union, commutativity, associativity, identity."""

from __future__ import annotations

import math
from itertools import chain, pairwise
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.stats.layout import Batch, Layout, fit_layout
from service.stats.profile import Profile, build_profile, merge_all
from service.stats.serialize import profile_to_dict

CATEGORIES = ["a", "b", "c", "new", None]
SEXES = ["F", "M", "X", None]
BANDS = ["1", "2", "3"]
LABELS = ["pos", "neg", None]
SPECIAL = [np.nan, np.inf, -np.inf, -1e3, 1e3, 0.0]


def _reference(task: str) -> Batch:
    rng = np.random.default_rng(99)
    n = 400
    regression = task == "regression"
    return Batch(
        rows=n,
        numeric={"x": rng.normal(0.0, 100.0, n), "k": rng.integers(0, 4, n).astype(np.float64)},
        categorical={"c": list(rng.choice(np.array(["a", "b", "c"]), n))},
        predictions=rng.normal(size=n) if regression else list(rng.choice(np.array(["pos", "neg"]), n)),
        scores=None if regression else rng.random(n),
        labels=rng.normal(size=n) if regression else list(rng.choice(np.array(["pos", "neg"]), n)),
        attributes={
            "sex": list(rng.choice(np.array(["F", "M", "X"]), n, p=[0.5, 0.4, 0.1])),
            "band": list(rng.choice(np.array(BANDS), n)),
        },
    )


LAYOUTS: dict[str, Layout] = {
    task: fit_layout(
        task=task,
        reference=_reference(task),
        positive_label=None if task == "regression" else "pos",
        intersections=[("sex", "band")],
        attribute_top_k=2,
        bins=20,
        coarse_bins=5,
    )
    for task in ("binary_classification", "regression")
}

finite = st.floats(-1e3, 1e3, allow_nan=False)
# Regression labels in hundredths: a label like 1e-310 would overflow |error| / |y| (MAPE).
label_value = st.integers(-100_000, 100_000).map(lambda i: i / 100)
number = st.one_of(finite, st.sampled_from(SPECIAL))
unit = st.one_of(st.floats(0.0, 1.0), st.just(np.nan))


@st.composite
def batches(draw: st.DrawFn, task: str, max_rows: int = 40) -> Batch:
    n = draw(st.integers(0, max_rows))

    def column(elements: st.SearchStrategy[Any]) -> list[Any]:
        return draw(st.lists(elements, min_size=n, max_size=n))

    regression = task == "regression"
    return Batch(
        rows=n,
        numeric={
            "x": np.array(column(number), dtype=np.float64),
            "k": np.array(column(st.integers(-1, 5).map(float)), dtype=np.float64),
        },
        categorical={"c": column(st.sampled_from(CATEGORIES))},
        predictions=np.array(column(st.one_of(finite, st.just(np.nan))))
        if regression
        else column(st.sampled_from(LABELS)),
        scores=None if regression else np.array(column(unit), dtype=np.float64),
        labels=np.array(column(st.one_of(label_value, st.just(np.nan))))
        if regression
        else column(st.sampled_from(LABELS)),
        attributes={"sex": column(st.sampled_from(SEXES)), "band": column(st.sampled_from(BANDS))},
        attributions={"x": np.array(column(st.one_of(finite, st.just(np.nan))), dtype=np.float64)},
    )


def _normal(profile: Profile) -> dict[str, Any]:
    data = profile_to_dict(profile)
    data["outcomes"] = {tuple(map(tuple, o.pop("group"))): o for o in data["outcomes"]}
    return data


def _close(a: Any, b: Any, path: str = "") -> None:
    """Counts and the extremes of input values exactly; float sums within 1e-9 relative (abs
    1e-9 near zero). The multivariate error's extremes are computed per row by a matrix
    product whose summation order BLAS picks by the batch's shape, so one row's error can
    differ by an ulp between a part and the union (seen: 0.984030637371042 vs …21)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            _close(a[key], b[key], f"{path}/{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and (
        path.rsplit("/", 1)[-1] not in {"minimum", "maximum"} or path.startswith("/multivariate/")
    ):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (path, a, b)
    else:
        assert a == b, (path, a, b)


def _concat(parts: list[Batch]) -> Batch:
    first = parts[0]

    def join(get: Any) -> Any:
        values = [get(p) for p in parts]
        return np.concatenate(values) if isinstance(values[0], np.ndarray) else list(chain(*values))

    return Batch(
        rows=sum(p.rows for p in parts),
        numeric={k: join(lambda p, k=k: p.numeric[k]) for k in first.numeric},
        categorical={k: join(lambda p, k=k: p.categorical[k]) for k in first.categorical},
        predictions=join(lambda p: p.predictions),
        scores=None if first.scores is None else join(lambda p: p.scores),
        labels=join(lambda p: p.labels),
        attributes={k: join(lambda p, k=k: p.attributes[k]) for k in first.attributes},
        attributions={k: join(lambda p, k=k: p.attributions[k]) for k in first.attributions},
    )


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(data=st.data(), task=st.sampled_from(sorted(LAYOUTS)))
def test_merge_of_parts_equals_profile_of_union(data: st.DataObject, task: str) -> None:
    layout = LAYOUTS[task]
    a, b = data.draw(batches(task)), data.draw(batches(task))
    merged = build_profile(layout, a).merge(build_profile(layout, b))
    _close(_normal(merged), _normal(build_profile(layout, _concat([a, b]))))


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(data=st.data(), task=st.sampled_from(sorted(LAYOUTS)))
def test_merge_is_commutative_associative_with_identity(data: st.DataObject, task: str) -> None:
    layout = LAYOUTS[task]
    p, q, r = (build_profile(layout, data.draw(batches(task, 25))) for _ in range(3))
    assert p.merge(q) == q.merge(p)  # float addition is commutative, so exactly
    _close(_normal(p.merge(q).merge(r)), _normal(p.merge(q.merge(r))))
    empty = Profile.empty(layout)
    assert empty.merge(p) == p and p.merge(empty) == p
    _close(_normal(merge_all([p, q, r], layout=layout)), _normal(p.merge(q).merge(r)))


@pytest.mark.slow
@settings(max_examples=20, deadline=None)
@given(batch=batches("binary_classification", 60), cuts=st.lists(st.integers(0, 60), max_size=4))
def test_bucket_merge_equals_whole(batch: Batch, cuts: list[int]) -> None:
    layout = LAYOUTS["binary_classification"]
    bounds = [0, *sorted(min(c, batch.rows) for c in cuts), batch.rows]
    parts = [build_profile(layout, batch.slice(lo, hi)) for lo, hi in pairwise(bounds)]
    _close(_normal(merge_all(parts, layout=layout)), _normal(build_profile(layout, batch)))
