"""What becomes of a batch after one attempt to send it — decided without doing any I/O.

The thread (:mod:`service.client.monitor`) and the asyncio task
(:mod:`service.client.async_monitor`) both post a batch and hand the answer to
:meth:`Delivery.apply`, which settles records in the queue and says how long to wait before
the next attempt. A batch is stored whole or not at all by the server, so:

=====================================  ================================================
answer                                 what the client does
=====================================  ================================================
2xx                                    sent (``accepted`` + ``duplicates`` of the body)
network error, 408, 429, 5xx           retry the same bytes after Retry-After, else
                                       backoff; the server deduplicates by id
409 / 422 naming records (``index``)   drop those records (rejected), resend the rest now
413, or 422 for the batch's size       split the batch in halves and send each
any other 4xx (400, 401, 403, 404…)    drop the batch (rejected), log the server's body
=====================================  ================================================
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any

from .queue import Kind, RecordQueue

log = logging.getLogger("modelmon.client")

# A Retry-After beyond this is read as a misconfigured proxy, not as a plan to wait an hour.
MAX_RETRY_AFTER_SECONDS = 300.0
# How much of a refusal goes into the log: its first errors, and at most this many characters.
LOGGED_ERRORS = 5
LOGGED_BODY_CHARS = 1000


class Action(Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    SPLIT = "split"
    DROP_SOME = "drop_some"
    DROP_ALL = "drop_all"


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    accepted: int = 0
    duplicates: int = 0
    retry_after: float | None = None
    indexes: frozenset[int] = frozenset()
    reason: str = ""


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP date), capped."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(text) - now).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def backoff(failures: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with equal jitter, in seconds: d/2 + U(0, d/2), d = min(cap, base·2^(n−1)).

    Half the delay is random so that many replicas cut off by the same outage do not come
    back in lockstep; the other half keeps a floor, so a down server is not hammered.
    """
    ceiling = min(cap, base * 2.0 ** min(failures - 1, 30))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def _json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None


def _errors(body: Any) -> list[dict[str, Any]]:
    """The ``errors`` of a standard error body (service/errors.py), or none."""
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _reason(status: int, content: bytes) -> str:
    """The server's answer for the log: the standard error body's detail and first errors."""
    body = _json(content)
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        errors = _errors(body)
        listed = "; ".join(
            f"[{e.get('index')}] {e.get('field')}: {e.get('message')}" for e in errors[:LOGGED_ERRORS]
        )
        total = body.get("error_count")
        more = (total if isinstance(total, int) else len(errors)) - min(len(errors), LOGGED_ERRORS)
        text = f"{body['detail']} — {listed}" + (f"; and {more} more" if more > 0 else "")
    else:
        text = content.decode("utf-8", "replace")
    return f"HTTP {status}: {text[:LOGGED_BODY_CHARS]}"


def _refusal(kind: Kind, status: int, content: bytes, size: int) -> Verdict:
    reason = _reason(status, content)
    errors = _errors(_json(content))
    indexes = frozenset(e["index"] for e in errors if type(e.get("index")) is int and 0 <= e["index"] < size)
    if status in (409, 422) and indexes:
        return Verdict(Action.DROP_SOME, indexes=indexes, reason=reason)
    too_many = status == 422 and any(e.get("index") is None and e.get("field") == kind.value for e in errors)
    if (status == 413 or too_many) and size > 1:
        return Verdict(Action.SPLIT, reason=reason)
    return Verdict(Action.DROP_ALL, reason=reason)


def judge(kind: Kind, status: int, headers: Mapping[str, str], content: bytes, size: int) -> Verdict:
    """The verdict on one answer to a batch of ``size`` records of ``kind``."""
    if 200 <= status < 300:
        body = _json(content)
        if isinstance(body, dict) and isinstance(body.get("accepted"), int):
            duplicates = body.get("duplicates")
            return Verdict(
                Action.DELIVERED, body["accepted"], duplicates if isinstance(duplicates, int) else 0
            )
        return Verdict(Action.DELIVERED, accepted=size)
    if status in (408, 429) or status >= 500:
        wait = retry_after(headers.get("retry-after"), datetime.now(UTC))
        return Verdict(Action.RETRY, retry_after=wait, reason=_reason(status, content)[:200])
    return _refusal(kind, status, content, size)


def network_error(error: Exception) -> Verdict:
    return Verdict(Action.RETRY, reason=f"{type(error).__name__}: {error}")


def payload(kind: Kind, records: list[bytes]) -> bytes:
    """``{"predictions": [...]}`` from records already encoded."""
    return b'{"' + kind.value.encode() + b'":[' + b",".join(records) + b"]}"


@dataclass(slots=True)
class Batch:
    """Records of one kind in delivery. ``chunks[0]`` is what the next attempt sends; a split
    puts its two halves in front, and the batch is done when no chunk is left."""

    kind: Kind
    chunks: list[list[bytes]]
    failures: int = 0

    @property
    def current(self) -> list[bytes]:
        return self.chunks[0]

    @property
    def done(self) -> bool:
        return not self.chunks

    def body(self) -> bytes:
        return payload(self.kind, self.chunks[0])


@dataclass(slots=True)
class Delivery:
    """Applies verdicts to batches for one monitor: settles records and keeps the outage state."""

    queue: RecordQueue
    model: str
    base_delay: float
    max_delay: float
    rng: random.Random = field(default_factory=random.Random)
    failing_since: int = 0  # consecutive failed attempts, across batches

    def apply(self, batch: Batch, verdict: Verdict) -> float:
        """Settle what the verdict decided; the seconds to wait before the next attempt."""
        if verdict.action is Action.RETRY:
            return self._failed(batch, verdict)
        if self.failing_since:
            log.warning("modelmon reachable again after %d failed attempts", self.failing_since)
            self.failing_since = 0
        batch.failures = 0
        chunk = batch.chunks.pop(0)
        if verdict.action is Action.DELIVERED:
            self.queue.settle(len(chunk), "sent", duplicates=min(verdict.duplicates, len(chunk)))
        elif verdict.action is Action.SPLIT:
            middle = len(chunk) // 2
            batch.chunks[:0] = [chunk[:middle], chunk[middle:]]
        elif verdict.action is Action.DROP_SOME:
            self._rejected(batch.kind, len(verdict.indexes), verdict.reason)
            rest = [record for i, record in enumerate(chunk) if i not in verdict.indexes]
            if rest:
                batch.chunks.insert(0, rest)
        else:
            self._rejected(batch.kind, len(chunk), verdict.reason)
        return 0.0

    def _failed(self, batch: Batch, verdict: Verdict) -> float:
        batch.failures += 1
        self.failing_since += 1
        self.queue.count("retries")
        wait = verdict.retry_after
        if wait is None:
            wait = backoff(batch.failures, base=self.base_delay, cap=self.max_delay, rng=self.rng)
        if self.failing_since == 1:
            log.warning(
                "modelmon did not take %d %s of model %r (%s); retrying in %.1f s, records stay queued",
                len(batch.current), batch.kind.value, self.model, verdict.reason, wait,
            )  # fmt: skip
        else:
            log.debug("attempt %d failed (%s); next in %.1f s", self.failing_since, verdict.reason, wait)
        return wait

    def _rejected(self, kind: Kind, count: int, reason: str) -> None:
        self.queue.settle(count, "rejected")
        log.warning(
            "modelmon rejected %d %s of model %r; not retried: %s", count, kind.value, self.model, reason
        )
