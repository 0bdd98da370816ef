"""A cold window read in parallel slices (``repository.window_event_columns``) against the
single ordered read: the same rows and the same profile, and on Postgres the slices see the
snapshot of the request's transaction, not rows committed after it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from service.aggregation import frames, repository
from service.aggregation.cold import events_profile
from service.aggregation.layouts import layout_of
from service.config import Settings
from service.registry.service import load_model
from service.stats.profile import build_profile
from service.stats.serialize import profile_to_dict
from service.storage.database import create_database_engine, create_session_factory, unit_of_work
from service.storage.sliced import slice_count
from tests.aggregation.test_columnar import ALL, DAY, World, _close, _credit_records, _fill
from tests.aggregation.test_columnar import world as world  # the fixture

WINDOW = (DAY, DAY + timedelta(days=1))


def _sorted(columns: dict[str, Any], names: Any = None) -> dict[str, Any]:
    """The columns (of ``names``, default all) in id order."""
    order = np.argsort(columns[frames.ID], kind="stable")
    return {name: values[order] for name, values in columns.items() if names is None or name in names}


def _groups_sorted(profile: dict[str, Any]) -> dict[str, Any]:
    """The profile with its outcome groups in one order: merging slices' profiles lists a
    group where it first appears, one profile where its rows first do."""
    return {**profile, "outcomes": sorted(profile["outcomes"], key=lambda group: repr(group["group"]))}


def _read(session: Any, slices: int) -> tuple[Any, Any, Any, Any]:
    model = load_model(session, "credit")
    spec = model.latest
    layout = layout_of(repository.active_layouts(session)[spec.version_id])
    single = repository.version_event_columns(
        session, model.model_id, spec, predictions_upto=ALL, outcomes_upto=ALL,
        start=WINDOW[0], end=WINDOW[1],
    )  # fmt: skip
    sliced = repository.window_event_columns(session, model.model_id, spec, *WINDOW, slices=slices)
    return spec, layout, single, sliced


@pytest.mark.parametrize("slices", [1, 2, 3])
def test_slices_give_the_rows_and_profile_of_one_read(world: World, slices: int) -> None:
    _fill(world)
    with unit_of_work(world.jobs.sessions) as session:
        spec, layout, single, sliced = _read(session, slices)
        assert single.rows == sliced.rows == 500
        ordered = frames.EventColumns(_sorted(sliced.columns))
        single = frames.EventColumns(_sorted(single.columns, ordered.columns))
        for name, values in single.columns.items():
            if values.dtype == object:  # text: None for a missing value
                assert list(ordered.columns[name]) == list(values), name
            else:  # NaN where the single read has NaN
                np.testing.assert_array_equal(ordered.columns[name], values, err_msg=name)
        expected = build_profile(layout, frames.batch_of(spec, single))
        assert profile_to_dict(build_profile(layout, frames.batch_of(spec, ordered))) == profile_to_dict(
            expected
        )
        cold = events_profile(
            session, load_model(session, "credit").model_id, spec, layout, *WINDOW, slices=slices
        )
        _close(_groups_sorted(profile_to_dict(cold)), _groups_sorted(profile_to_dict(expected)))


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_slices_read_the_snapshot_of_the_request(world: World) -> None:
    _fill(world)
    session = world.jobs.sessions()
    try:
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        spec, layout, before, _ = _read(session, 2)  # the transaction's snapshot is taken here
        later = _credit_records(600, "late")[:100]
        world.post("/v1/models/credit/predictions", {"predictions": later})  # committed meanwhile
        _, _, single, sliced = _read(session, 2)
        assert before.rows == single.rows == sliced.rows == 500
        expected = profile_to_dict(build_profile(layout, frames.batch_of(spec, single)))
        ordered = frames.EventColumns(_sorted(sliced.columns))
        single = frames.EventColumns(_sorted(single.columns, ordered.columns))
        assert profile_to_dict(build_profile(layout, frames.batch_of(spec, ordered))) == expected
    finally:
        session.rollback()
        session.close()
    with unit_of_work(world.jobs.sessions) as fresh:
        assert _read(fresh, 2)[3].rows == 600  # the new rows are there for a new transaction


@pytest.mark.postgres
@pytest.mark.parametrize(("pool_size", "expected"), [(1, 1), (2, 1), (3, 2), (10, 2)])
def test_slices_are_bounded_by_the_pool_connections_left(
    postgres_url: str, pool_size: int, expected: int
) -> None:
    """The request holds one pooled connection; each slice needs another one."""
    engine = create_database_engine(Settings(database_url=postgres_url, database_pool_size=pool_size))
    try:
        with unit_of_work(create_session_factory(engine)) as session:
            session.connection()
            assert slice_count(session, 2) == expected
    finally:
        engine.dispose()
