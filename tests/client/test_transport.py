"""What the client does with each kind of answer, and its backoff (pure functions, no server)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from service.client.queue import Kind, RecordQueue
from service.client.transport import (
    MAX_RETRY_AFTER_SECONDS,
    Action,
    Batch,
    Delivery,
    backoff,
    judge,
    payload,
    retry_after,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _error_body(*errors: tuple[int | None, str], count: int | None = None) -> bytes:
    listed = [{"index": i, "field": f, "message": "bad"} for i, f in errors]
    return json.dumps({"detail": "refused", "errors": listed, "error_count": count or len(listed)}).encode()


@pytest.mark.parametrize(
    ("status", "headers", "content", "action"),
    [
        (200, {}, b'{"accepted": 3, "duplicates": 1}', Action.DELIVERED),
        (500, {}, b"oops", Action.RETRY),
        (502, {}, b"<html>bad gateway</html>", Action.RETRY),
        (503, {"retry-after": "5"}, _error_body((None, "database")), Action.RETRY),
        (429, {"retry-after": "1"}, _error_body((None, "authorization")), Action.RETRY),
        (408, {}, b"", Action.RETRY),
        (422, {}, _error_body((1, "score"), (3, "features.x")), Action.DROP_SOME),
        (409, {}, _error_body((0, "id")), Action.DROP_SOME),
        (422, {}, _error_body((None, "predictions")), Action.SPLIT),
        (413, {}, _error_body((None, "body")), Action.SPLIT),
        (404, {}, _error_body((None, "name")), Action.DROP_ALL),
        (401, {}, _error_body((None, "authorization")), Action.DROP_ALL),
        (403, {}, _error_body((None, "authorization")), Action.DROP_ALL),
        (400, {}, b'{"detail": "malformed JSON"}', Action.DROP_ALL),
        (422, {}, _error_body((7, "score")), Action.DROP_ALL),  # an index beyond the batch
    ],
)
def test_each_answer_has_one_action(
    status: int, headers: dict[str, str], content: bytes, action: Action
) -> None:
    assert judge(Kind.PREDICTIONS, status, headers, content, size=4).action is action


def test_a_single_record_too_large_is_dropped_not_split_forever() -> None:
    assert judge(Kind.OUTCOMES, 413, {}, b"", size=1).action is Action.DROP_ALL


def test_retry_after_reads_seconds_and_dates_and_is_capped() -> None:
    assert retry_after("5", NOW) == 5.0
    assert retry_after("Sun, 22 Nov 2026 12:00:30 GMT", NOW) == 30.0
    assert retry_after("Sun, 22 Nov 2026 11:00:00 GMT", NOW) == 0.0
    assert retry_after("86400", NOW) == MAX_RETRY_AFTER_SECONDS
    assert retry_after("soon", NOW) is None
    assert retry_after(None, NOW) is None
    verdict = judge(Kind.PREDICTIONS, 429, {"retry-after": "2"}, b"", size=1)
    assert verdict.retry_after == 2.0


def test_backoff_doubles_up_to_its_cap_with_half_of_it_random() -> None:
    rng = random.Random(7)
    for failures, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (10, 30.0), (500, 30.0)]:
        delays = [backoff(failures, base=0.5, cap=30.0, rng=rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 4  # jitter spreads replicas out


def _queue_with(records: list[bytes]) -> tuple[RecordQueue, list[bytes]]:
    queue = RecordQueue(capacity=100, batch_size=100, on_full_batch=lambda: None)
    for record in records:
        queue.put(Kind.PREDICTIONS, record)
    return queue, queue.take(Kind.PREDICTIONS, partial=True)


def _body(batch: Batch) -> Any:
    return json.loads(batch.body())


def test_refused_records_are_removed_and_the_rest_resent_at_once() -> None:
    queue, taken = _queue_with([json.dumps({"id": i}).encode() for i in range(5)])
    delivery = Delivery(queue, "credit", base_delay=0.5, max_delay=30.0)
    batch = Batch(Kind.PREDICTIONS, [taken])
    assert delivery.apply(batch, judge(Kind.PREDICTIONS, 422, {}, _error_body((1, "x"), (3, "y")), 5)) == 0.0
    assert _body(batch) == {"predictions": [{"id": 0}, {"id": 2}, {"id": 4}]}
    assert (
        delivery.apply(batch, judge(Kind.PREDICTIONS, 200, {}, b'{"accepted": 3, "duplicates": 0}', 3)) == 0
    )
    assert batch.done
    counters = queue.snapshot()
    assert (counters.sent, counters.rejected, counters.queued, counters.retries) == (3, 2, 0, 0)


def test_a_split_batch_sends_both_halves_and_a_failure_waits() -> None:
    queue, taken = _queue_with([b"1", b"2", b"3"])
    delivery = Delivery(queue, "credit", base_delay=0.5, max_delay=30.0)
    batch = Batch(Kind.PREDICTIONS, [taken])
    delivery.apply(batch, judge(Kind.PREDICTIONS, 413, {}, b"", 3))
    assert batch.chunks == [[b"1"], [b"2", b"3"]]
    assert 0.25 <= delivery.apply(batch, judge(Kind.PREDICTIONS, 503, {}, b"", 1)) <= 0.5
    assert delivery.apply(batch, judge(Kind.PREDICTIONS, 429, {"retry-after": "3"}, b"", 1)) == 3.0
    delivery.apply(batch, judge(Kind.PREDICTIONS, 200, {}, b'{"accepted": 0, "duplicates": 1}', 1))
    delivery.apply(batch, judge(Kind.PREDICTIONS, 200, {}, b'{"accepted": 2, "duplicates": 0}', 2))
    counters = queue.snapshot()
    assert (counters.sent, counters.duplicates, counters.retries, counters.queued) == (3, 1, 2, 0)


def test_payload_wraps_encoded_records() -> None:
    assert json.loads(payload(Kind.OUTCOMES, [b'{"a":1}', b'{"b":2}'])) == {"outcomes": [{"a": 1}, {"b": 2}]}
