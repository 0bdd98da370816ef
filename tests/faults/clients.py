"""Clients that ingest as a well-behaved model service does, for the fault tests and the soak:
a batch is posted until a 200, retrying 503, 429 and network errors; every attempt and every
confirmed id is written down, so the end of a run can compare them with what is stored."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

# Backoff when an answer carries no Retry-After: 0.25 s doubling up to 5 s.
FIRST_BACKOFF_SECONDS = 0.25
MAX_BACKOFF_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Attempt:
    sent: float  # time.monotonic() when the request left
    seconds: float  # until the answer or the error
    outcome: str  # the status code ("200", "503") or the network error's class name


@dataclass(frozen=True, slots=True)
class Confirmed:
    """The answer of the 200, and whether an earlier attempt of the same batch failed."""

    answer: dict[str, Any]
    retried: bool


@dataclass
class Ledger:
    """Every attempt, the ids each 200 confirmed, and the counts it answered.

    A batch whose attempt failed after its COMMIT (the answer was lost) is answered
    "duplicates" on retry, so ``stored = accepted + duplicates_after_retry`` and
    ``duplicates_first_time`` (a batch never sent before, answered duplicates) stays 0.
    """

    lock: threading.Lock = field(default_factory=threading.Lock)
    attempts: list[Attempt] = field(default_factory=list)
    confirmed: dict[str, set[str]] = field(default_factory=lambda: {"predictions": set(), "outcomes": set()})
    accepted: Counter[str] = field(default_factory=Counter)
    duplicates_after_retry: Counter[str] = field(default_factory=Counter)
    duplicates_first_time: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)  # anything a client did not expect

    def confirm(self, kind: str, ids: Iterable[str], confirmed: Confirmed) -> None:
        ids, answer = list(ids), confirmed.answer
        with self.lock:
            self.confirmed[kind].update(ids)
            self.accepted[kind] += answer["accepted"]
            late = self.duplicates_after_retry if confirmed.retried else self.duplicates_first_time
            late[kind] += answer["duplicates"]
            if answer["accepted"] + answer["duplicates"] != len(ids):
                self.failures.append(f"{kind}: answered {answer} for {len(ids)} records")

    def errors(self) -> Counter[str]:
        with self.lock:
            return Counter(a.outcome for a in self.attempts if a.outcome != "200")


def post_until_stored(
    http: httpx.Client, path: str, body: dict[str, Any], ledger: Ledger, pause: float | None = None
) -> Confirmed:
    """The JSON of the first 200. 503, 429 and network errors are retried after ``pause``
    if given (tests that time the recovery), else after ``Retry-After`` or the backoff; any
    other answer raises, as a client must not resend what was refused."""
    backoff, retried = FIRST_BACKOFF_SECONDS, False
    while True:
        sent = time.monotonic()
        response: httpx.Response | None = None
        try:
            response = http.post(path, json=body)
            outcome = str(response.status_code)
        except httpx.TransportError as error:
            outcome = type(error).__name__
        with ledger.lock:
            ledger.attempts.append(Attempt(sent, time.monotonic() - sent, outcome))
        if response is not None:
            if response.status_code == 200:
                return Confirmed(response.json(), retried)
            if response.status_code not in (429, 503):
                raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
            retry_after = response.headers.get("retry-after")
            if retry_after is None:
                with ledger.lock:
                    ledger.failures.append(f"{path}: a {response.status_code} without Retry-After")
        else:
            retry_after = None
        retried = True
        time.sleep(pause if pause is not None else float(retry_after or backoff))
        backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
