"""The window grid refuses moments it cannot represent and counts a batch's windows exactly."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

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


def test_counting_the_windows_of_moments_equals_listing_those_of_their_buckets() -> None:
    """Moments with microseconds, other offsets than UTC, on bucket edges and before 1970: each
    in the bucket ⌊(moment − epoch) / bucket⌋ (as the fold puts it), counted as listed."""
    rng = random.Random(6)
    zones = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
    for base in (datetime(2026, 1, 1, tzinfo=UTC), datetime(1969, 12, 31, 12, tzinfo=UTC)):
        for _ in range(200):
            bucket = rng.choice([60, 300, 3600])
            step = rng.choice([3600, 7200, 86400])
            window = step * rng.choice([1, 2, 24, 7])
            moments = [
                (
                    base
                    + timedelta(seconds=rng.randrange(0, 86400 * 3), microseconds=rng.choice([0, 1, 999_999]))
                ).astimezone(rng.choice(zones))
                for _ in range(rng.randrange(1, 40))
            ]
            starts = {_bucket_start(moment, bucket) for moment in moments}
            listed = set().union(
                *(grid.windows_containing(s, bucket=bucket, step=step, window=window) for s in starts)
            )
            counted = grid.count_windows_of_moments(moments, bucket=bucket, step=step, window=window)
            assert counted == len(listed)
    # A microsecond before the epoch is in the bucket before it (the floor, not the truncation
    # towards 0): two windows, [-1 h, 0) and [0, 1 h), not one.
    edge = [grid.EPOCH - timedelta(microseconds=1), grid.EPOCH + timedelta(seconds=3599)]
    assert grid.count_windows_of_moments(edge, bucket=300, step=3600, window=3600) == 2
    with pytest.raises(grid.OutsideGrid):
        grid.count_windows_of_moments([datetime(1, 1, 1, tzinfo=UTC)], bucket=300, step=3600, window=86400)
    assert grid.count_windows_of_moments([], bucket=300, step=3600, window=86400) == 0


def _bucket_start(moment: datetime, bucket: int) -> datetime:
    """The start of the bucket holding ``moment``, from whole microseconds since the epoch."""
    micros = (moment - grid.EPOCH) // timedelta(microseconds=1)
    start = grid.EPOCH + timedelta(seconds=micros // (bucket * 1_000_000) * bucket)
    assert start <= moment < start + timedelta(seconds=bucket)
    return start


def test_retries_back_off_from_one_minute_doubling_to_an_hour() -> None:
    minutes = [retry_delay(attempt) / timedelta(minutes=1) for attempt in range(1, 10)]
    assert minutes == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert retry_delay(10_000) == timedelta(hours=1)
