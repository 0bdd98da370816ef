"""The bounded in-memory queue between the model's threads and the one that sends, and its counters.

The bound is on records *held*: waiting in the queue plus being delivered (sent, or waiting
to be retried). Memory is therefore at most ``capacity`` encoded records (~1 KB each for 20
features) however long modelmon is down; past it, new records are dropped and counted.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import StrEnum


class Kind(StrEnum):
    """The kind of a record, named as the API's route and batch key."""

    PREDICTIONS = "predictions"
    OUTCOMES = "outcomes"


@dataclass(frozen=True, slots=True)
class Counters:
    """Records counted since the monitor started (``queued`` is the number held now).

    Every logged record ends in exactly one of ``sent``, ``dropped_queue_full``, ``rejected``,
    ``invalid`` or ``dropped_on_close``, or is still ``queued``.
    """

    queued: int = 0  # held now: waiting, being sent, or waiting to be retried
    sent: int = 0  # confirmed stored by the server (this time or by an earlier resend)
    duplicates: int = 0  # of sent: the server already had them (a resend after a lost answer)
    dropped_queue_full: int = 0  # logged while ``max_queue`` records were held
    rejected: int = 0  # refused by the server with a 4xx; never retried (the log says why)
    invalid: int = 0  # refused by the client itself before queueing (the log says why)
    retries: int = 0  # attempts that failed (network, 408, 429, 5xx) and were retried
    dropped_on_close: int = 0  # still held when close() gave up, or logged after close()

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class RecordQueue:
    """Thread-safe: ``put`` from any thread, ``take``/``settle`` from the sending side."""

    def __init__(self, capacity: int, batch_size: int, on_full_batch: Callable[[], None]) -> None:
        self._capacity = capacity
        self._batch_size = batch_size
        self._on_full_batch = on_full_batch
        self._changed = threading.Condition(threading.Lock())
        self._waiting: dict[Kind, deque[bytes]] = {kind: deque() for kind in Kind}
        self._held = 0
        self._closed = False
        self._counts = dict.fromkeys((f.name for f in fields(Counters)), 0)

    def put(self, kind: Kind, record: bytes) -> bool:
        """Queue one encoded record; False (and counted) when full or closed."""
        with self._changed:
            if self._closed:
                self._counts["dropped_on_close"] += 1
                return False
            if self._held >= self._capacity:
                self._counts["dropped_queue_full"] += 1
                return False
            waiting = self._waiting[kind]
            waiting.append(record)
            self._held += 1
            full = len(waiting) == self._batch_size
        if full:  # outside the lock: waking the sender may take a lock of its own
            self._on_full_batch()
        return True

    def take(self, kind: Kind, *, partial: bool) -> list[bytes]:
        """Up to ``batch_size`` waiting records of ``kind``; none unless a full batch waits or
        ``partial`` (the interval has passed, or a flush or close asked for everything)."""
        with self._changed:
            waiting = self._waiting[kind]
            if len(waiting) < self._batch_size and not partial:
                return []
            count = min(len(waiting), self._batch_size)
            return [waiting.popleft() for _ in range(count)]

    def held(self) -> int:
        with self._changed:
            return self._held

    def waiting(self) -> int:
        with self._changed:
            return sum(len(w) for w in self._waiting.values())

    def count(self, name: str, amount: int = 1) -> None:
        with self._changed:
            self._counts[name] += amount

    def settle(self, records: int, outcome: str, *, duplicates: int = 0) -> None:
        """``records`` are no longer held: they ended as ``outcome`` (a counter's name)."""
        with self._changed:
            if self._closed:
                return  # close() already counted them as dropped_on_close
            self._held -= records
            self._counts[outcome] += records
            self._counts["duplicates"] += duplicates
            if self._held == 0:
                self._changed.notify_all()

    def wait_empty(self, timeout: float) -> bool:
        """Block until nothing is held (True) or ``timeout`` seconds pass (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._held == 0, timeout)

    def close(self) -> int:
        """Refuse new records; count what is still held as dropped_on_close; return that number."""
        with self._changed:
            self._closed = True
            left = self._held
            self._counts["dropped_on_close"] += left
            self._held = 0
            for waiting in self._waiting.values():
                waiting.clear()
            self._changed.notify_all()
            return left

    def snapshot(self) -> Counters:
        with self._changed:
            return Counters(**{**self._counts, "queued": self._held})
