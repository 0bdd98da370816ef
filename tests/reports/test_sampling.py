"""The reservoir sampler behind the drift report's samples: exact, seeded, uniform."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from service.reports.drift import reservoir


def _pages(total: int, page: int) -> list[list[int]]:
    return [list(range(start, min(start + page, total))) for start in range(0, total, page)]


def test_keeps_everything_when_the_stream_fits() -> None:
    assert reservoir(_pages(7, 3), 10, seed=0, side=0) == (list(range(7)), 7)
    assert reservoir([], 10, seed=0, side=0) == ([], 0)


def test_sample_has_the_asked_size_distinct_items_and_the_total() -> None:
    picked, total = reservoir(_pages(10_000, 777), 500, seed=3, side=0)
    assert total == 10_000
    assert len(picked) == len(set(picked)) == 500
    assert picked == sorted(picked) and picked[0] >= 0 and picked[-1] < 10_000


def test_same_seed_same_sample_whatever_the_page_size() -> None:
    first = reservoir(_pages(5_000, 100), 300, seed=7, side=0)
    assert reservoir(_pages(5_000, 100), 300, seed=7, side=0) == first
    assert reservoir(_pages(5_000, 100), 300, seed=8, side=0) != first
    assert reservoir(_pages(5_000, 100), 300, seed=7, side=1) != first


@pytest.mark.slow
def test_every_item_is_equally_likely() -> None:
    # 2,000 samples of 50 out of 1,000: each item is drawn 100 times in expectation. A
    # chi-square goodness-of-fit test over the 1,000 counts must not reject uniformity,
    # and position in the stream (early items fill the reservoir) must not matter.
    counts = np.zeros(1_000)
    for seed in range(2_000):
        picked, _ = reservoir(_pages(1_000, 64), 50, seed=seed, side=0)
        counts[picked] += 1
    assert stats.chisquare(counts).pvalue > 0.001
    assert abs(counts[:50].mean() - counts[-50:].mean()) < 10
