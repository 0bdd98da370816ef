"""A caught-up worker wakes when the next window ends, not a whole interval later."""

from __future__ import annotations

from datetime import timedelta

import pytest

from service.config import Settings
from service.kernel import grid
from service.runner import Pipeline
from service.storage.database import unit_of_work
from service.windows import repository as window_repository
from service.windows.jobs import WINDOW_END_GRACE_SECONDS
from tests.alerting.support import Harness


def test_the_pause_ends_just_after_the_next_window_end(h: Harness, settings: Settings) -> None:
    jobs = Pipeline(h.sessions, settings, h.clock)
    assert jobs.pause() == settings.worker_interval_seconds  # nothing waits
    end = grid.floor(h.clock(), 60) + timedelta(minutes=1)
    h.clock.at = end - timedelta(seconds=3)
    with unit_of_work(h.sessions) as session:
        window_repository.schedule(
            session, model_id=h.model_id, version_id=h.version_id, windows=[(end - timedelta(hours=1), end)],
            generation=1, horizon=grid.EPOCH,
        )  # fmt: skip
    assert jobs.pause() == pytest.approx(3 + WINDOW_END_GRACE_SECONDS)
    h.clock.at = end + timedelta(seconds=1)  # due now: it is the round's job, not the pause's
    assert jobs.pause() == settings.worker_interval_seconds
