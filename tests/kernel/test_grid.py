"""The window grid refuses moments it cannot represent and counts a batch's windows exactly."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from service.failures.service import retry_delay
from service.kernel import grid


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1, 1, 1, 5, tzinfo=UTC),
        datetime.fromisoformat("0001-01-01T05:00:00+14:00"),
        datetime.fromisoformat("9999-12-31T20:00:00-14:00"),
    ],
)
def test_moments_off_the_grid_raise_outside_grid_not_overflow(moment: datetime) -> None:
    assert not grid.on_grid(moment)
    with pytest.raises(grid.OutsideGrid, match="outside the window grid"):
        grid.windows_containing(moment, bucket=300, step=3600, window=86400)
    with pytest.raises(grid.OutsideGrid):
        grid.floor(moment, 3600)


def test_the_grid_reaches_a_window_and_a_label_wait_past_its_bounds() -> None:
    first = grid.windows_containing(grid.FIRST, bucket=300, step=3600, window=90 * 86400)
    assert first[0][0] == grid.FIRST + timedelta(hours=1) - timedelta(days=90)
    assert grid.at(grid.seconds_since_epoch(grid.LAST) + 400 * 86400) > grid.LAST
    with pytest.raises(grid.OutsideGrid):
        grid.at(-62135578800)  # 0001-01-01T05:00:00Z, what the row folded to


def test_counting_windows_equals_listing_them() -> None:
    rng = random.Random(5)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(300):
        bucket = rng.choice([60, 300, 3600])
        step = rng.choice([3600, 7200, 86400])
        window = step * rng.choice([1, 2, 24, 7])
        buckets = [
            grid.floor(base + timedelta(seconds=rng.randrange(0, 86400 * 20)), bucket)
            for _ in range(rng.randrange(1, 40))
        ]
        listed = set().union(
            *(grid.windows_containing(b, bucket=bucket, step=step, window=window) for b in buckets)
        )
        assert grid.count_windows_containing(buckets, bucket=bucket, step=step, window=window) == len(listed)


def test_retries_back_off_from_one_minute_doubling_to_an_hour() -> None:
    minutes = [retry_delay(attempt) / timedelta(minutes=1) for attempt in range(1, 10)]
    assert minutes == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert retry_delay(10_000) == timedelta(hours=1)
