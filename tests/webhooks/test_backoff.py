"""The retry schedule: 15 s doubling, capped at 4 h, ±20 % jitter; and what each answer means."""

from __future__ import annotations

import random

import pytest

from service.webhooks.delivery import (
    nominal_delay,
    outcome,
    retry_delay,
    schedule,
)
from service.webhooks.states import Outcome

DELIVERED, RETRY, DEAD, DISABLED = Outcome.DELIVERED, Outcome.RETRY, Outcome.DEAD, Outcome.DISABLED


def test_the_delay_doubles_from_15_seconds_up_to_4_hours() -> None:
    assert [nominal_delay(n) for n in range(1, 13)] == [
        15, 30, 60, 120, 240, 480, 960, 1920, 3840, 7680, 14400, 14400,
    ]  # fmt: skip


def test_thirteen_attempts_span_about_twelve_hours() -> None:
    rows = schedule(13)
    assert len(rows) == 13 and rows[0] == (1, 0.0, 0.0)
    assert rows[-1][2] == 15 * (2**10 - 1) + 2 * 14400  # 44,145 s ≈ 12.3 h


def test_jitter_stays_within_20_percent() -> None:
    rng = random.Random(3)
    for attempts in (1, 5, 12):
        seconds = [retry_delay(attempts, rng).total_seconds() for _ in range(500)]
        nominal = nominal_delay(attempts)
        assert 0.8 * nominal <= min(seconds) < 0.85 * nominal
        assert 1.15 * nominal < max(seconds) <= 1.2 * nominal


@pytest.mark.parametrize(
    ("status", "attempts", "expected"),
    [
        (200, 1, DELIVERED),
        (204, 13, DELIVERED),
        (410, 1, DISABLED),
        (503, 1, RETRY),
        (301, 1, RETRY),
        (None, 12, RETRY),
        (None, 13, DEAD),
        (500, 13, DEAD),
    ],
)
def test_each_answer_decides_the_delivery(status: int | None, attempts: int, expected: str) -> None:
    assert outcome(status, attempts, 13) == expected
