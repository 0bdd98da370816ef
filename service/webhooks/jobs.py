"""The webhook worker: claim due deliveries, send them concurrently, record the results.

No transaction is open while a request is in flight. Work moves in three steps:

1. claim (one short transaction): lock due deliveries (``FOR UPDATE SKIP LOCKED`` on
   Postgres) and push their ``next_attempt_at`` to the end of a lease, so other workers
   skip them and a crashed worker's claims come due again when the lease ends;
2. send (no transaction): up to ``webhook_concurrency`` requests at once, each with
   ``http_timeout_seconds``, at most a quarter of them to any one endpoint;
3. record (one short transaction): an attempt row per request, and the delivery's new
   state — applied only if the lease still holds (a redelivery in between wins).

:meth:`Deliverer.run_once` does one claim → send → record round (tests, backfills).
:meth:`Deliverer.run_forever` pipelines them: it claims whenever slots are free and
records results as they arrive, so a receiver that hangs until the timeout delays only
its own deliveries, never a whole batch.

Delivery is at least once: a worker that dies between sending and recording leaves the
delivery to be sent again after the lease; receivers deduplicate on ``webhook-id``.
"""

from __future__ import annotations

import functools
import logging
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy.orm import Session, sessionmaker

from service.clock import Clock, system_clock
from service.config import Settings
from service.kernel.instruments import WEBHOOK_DELIVERIES
from service.kernel.job import JobTiming
from service.storage.database import unit_of_work
from service.storage.webhook_tables import WebhookDelivery, WebhookEndpoint, WebhookMessage
from service.webhooks import repository
from service.webhooks.delivery import (
    AttemptResult,
    Claim,
    attempt,
    build_client,
    outcome,
    retry_delay,
)
from service.webhooks.netguard import Guard, Resolver, system_resolver
from service.webhooks.sealing import UnreadableSecret, sealer_for
from service.webhooks.service import signing_secrets
from service.webhooks.states import Outcome, state_after

log = logging.getLogger("modelmon.webhooks")
Row = tuple[WebhookDelivery, WebhookMessage, WebhookEndpoint]

JOB = "webhooks"
# An idle worker looks for due deliveries this often: a new event waits ≤ 1 s, and the
# claim query on the (state, next_attempt_at) index costs ~1 ms.
POLL_SECONDS = 1.0
# A lease covers every round of the batch (limit / concurrency requests deep), each
# allowed 2 timeouts (httpx applies the timeout per phase: connect, then each read),
# plus 30 s for the two transactions.
LEASE_TIMEOUTS_PER_ROUND = 2
LEASE_MARGIN_SECONDS = 30.0
# One endpoint may hold at most 1/4 of the slots (4 of the default 16): a receiver that
# hangs until the timeout then costs a quarter of the throughput, not all of it.
ENDPOINT_SHARE = 4
# run_forever keeps twice the slots in flight (queued in the pool), so the pool never
# idles while the next claim runs; it records once half the slots have finished or the
# oldest result waited 50 ms — one transaction per ~8 results instead of per result.
IN_FLIGHT_PER_SLOT = 2
RECORD_AFTER_SECONDS = 0.05


class Deliverer:
    """Sends the webhook outbox of one database. Any number may run, in any processes."""

    name = JOB

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        clock: Clock,
        client: httpx.Client | None = None,
        *,
        resolver: Resolver = system_resolver,
        signing_clock: Clock = system_clock,
        rng: random.Random | None = None,
    ) -> None:
        """``clock`` schedules (due times, backoff, attempt times); ``signing_clock`` stamps
        ``webhook-timestamp``, which receivers compare with their own clock (±5 min), so it
        stays the real time even when tests move ``clock``."""
        self.sessions, self.settings, self.clock = sessions, settings, clock
        self.signing_clock = signing_clock
        self.timing = JobTiming(JOB, clock)
        self.guard = Guard.from_cidrs(settings.webhook_networks, resolver)
        self.sealer = sealer_for(settings)
        self.rng = rng or random.Random()
        self.slots = settings.webhook_concurrency
        self.per_endpoint = max(1, self.slots // ENDPOINT_SHARE)
        self._owns_client = client is None
        self.client = client or build_client(self.guard, settings.http_timeout_seconds, self.slots)
        self.pool = ThreadPoolExecutor(self.slots, thread_name_prefix="modelmon-webhook")
        self._busy: Counter[int] = Counter()  # in-flight claims per endpoint

    def __enter__(self) -> Deliverer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        if self._owns_client:
            self.client.close()

    def lease(self, limit: int) -> timedelta:
        rounds = math.ceil(limit / self.slots)
        timeout = self.settings.http_timeout_seconds
        return timedelta(seconds=rounds * LEASE_TIMEOUTS_PER_ROUND * timeout + LEASE_MARGIN_SECONDS)

    def run_once(self, limit: int = 100) -> int:
        """Attempt up to ``limit`` due deliveries once each; returns how many were attempted.
        The run's duration is its two transactions', without the requests in between."""
        started = self.timing.start()
        claims = self._claim(limit)
        seconds = self.timing.elapsed(started)
        if claims:
            results = list(self.pool.map(self._attempt, claims))
            recording = self.timing.start()
            self._record(list(zip(claims, results, strict=True)))
            seconds += self.timing.elapsed(recording)
        self.timing.succeeded(seconds)
        return len(claims)

    def run_forever(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set, then finish and record what is in flight (≤ one
        timeout). Polls every ``POLL_SECONDS`` while the outbox is empty."""
        in_flight: dict[Future[AttemptResult], Claim] = {}
        finished: list[tuple[Claim, AttemptResult]] = []
        oldest = 0.0
        while not stop.is_set() or in_flight or finished:
            if not stop.is_set() and len(in_flight) <= self.slots * (IN_FLIGHT_PER_SLOT - 1):
                self._guarded(functools.partial(self._submit, in_flight))
            if not in_flight and not finished:
                stop.wait(POLL_SECONDS)
                continue
            done, _ = wait(list(in_flight), timeout=RECORD_AFTER_SECONDS, return_when=FIRST_COMPLETED)
            if done and not finished:
                oldest = time.monotonic()
            finished.extend((in_flight.pop(future), future.result()) for future in done)
            if finished and (
                len(finished) >= self.slots // 2
                or time.monotonic() - oldest >= RECORD_AFTER_SECONDS
                or not in_flight
            ):
                batch, finished = finished, []
                self._guarded(functools.partial(self._record, batch))

    def _submit(self, in_flight: dict[Future[AttemptResult], Claim]) -> None:
        started = self.timing.start()
        for claim in self._claim(self.slots * IN_FLIGHT_PER_SLOT - len(in_flight)):
            in_flight[self.pool.submit(self._attempt, claim)] = claim
        self.timing.succeeded(self.timing.elapsed(started))

    def _guarded(self, step: Callable[[], None]) -> None:
        """Run one transaction of the loop; a failure (database down) is logged and the
        loop goes on — claims whose results were lost come due again after their lease."""
        try:
            step()
        except Exception:
            self.timing.failed()
            log.exception("webhooks: a transaction failed; continuing")
            time.sleep(POLL_SECONDS)

    def _claim(self, limit: int) -> list[Claim]:
        now = self.clock()
        lease_until = now + self.lease(limit)
        with unit_of_work(self.sessions) as session:
            rows = repository.lock_due(
                session, now=now, limit=limit + self.per_endpoint, per_endpoint=self.per_endpoint
            )
            shared = self._within_share(rows, limit)
            kept = [(row, secrets) for row in shared if (secrets := self._secrets(row, now))]
            repository.lease(session, [delivery for (delivery, _, _), _ in kept], lease_until)
            claims = [
                Claim(
                    delivery_id=delivery.id,
                    endpoint_id=endpoint.id,
                    message_id=message.message_id,
                    url=endpoint.url,
                    body=orjson.dumps(message.payload),
                    secrets=secrets,
                    attempts=delivery.attempts,
                    lease_until=lease_until,
                )
                for (delivery, message, endpoint), secrets in kept
            ]
        self._busy.update(claim.endpoint_id for claim in claims)
        return claims

    def _secrets(self, row: Row, now: datetime) -> tuple[str, ...]:
        """The endpoint's signing secrets; none (the delivery waits, unclaimed) when they do
        not decrypt, so one endpoint sealed under another key does not stop the others."""
        try:
            return signing_secrets(row[2], now, self.sealer)
        except UnreadableSecret as error:
            log.error("webhooks: %s", error)
            return ()

    def _within_share(self, rows: Sequence[Row], limit: int) -> list[Row]:
        """The rows to claim: at most ``limit``, and no endpoint above its share of slots
        counting what is already in flight to it."""
        taken: Counter[int] = Counter()
        kept: list[Row] = []
        for row in rows:
            endpoint_id = row[2].id
            if len(kept) < limit and self._busy[endpoint_id] + taken[endpoint_id] < self.per_endpoint:
                taken[endpoint_id] += 1
                kept.append(row)
        return kept

    def _attempt(self, claim: Claim) -> AttemptResult:
        return attempt(
            self.client,
            claim,
            guard=self.guard,
            timeout=self.settings.http_timeout_seconds,
            clock=self.clock,
            signing_clock=self.signing_clock,
        )

    def _record(self, finished: list[tuple[Claim, AttemptResult]]) -> None:
        self._busy.subtract(claim.endpoint_id for claim, _ in finished)
        self._busy += Counter()  # drop endpoints with nothing in flight
        now = self.clock()
        with unit_of_work(self.sessions) as session:
            held = repository.held_leases(session, {c.delivery_id: c.lease_until for c, _ in finished})
            decided = [(c, r, self._decide(c, r)) for c, r in finished if c.delivery_id in held]
            delays = [retry_delay(c.attempts + 1, self.rng) for c, _, _ in decided]
            changes = [_changes(c, r, k, now, d) for (c, r, k), d in zip(decided, delays, strict=True)]
            repository.update_deliveries(session, changes)
            for claim, _, kind in decided:
                self._after(session, claim, kind, now)
            repository.add_attempts(session, [_attempt_row(claim, result) for claim, result in finished])
        for _, _, kind in decided:
            WEBHOOK_DELIVERIES.labels(outcome=kind).inc()

    def _decide(self, claim: Claim, result: AttemptResult) -> Outcome:
        return outcome(result.status_code, claim.attempts + 1, self.settings.webhook_max_attempts)

    def _after(self, session: Session, claim: Claim, kind: Outcome, now: datetime) -> None:
        if kind is Outcome.DISABLED:
            reason = f"the receiver answered 410 Gone at {now.isoformat()}; re-enable it with PATCH"
            repository.disable_endpoint(session, claim.endpoint_id, reason, now)
        elif kind is Outcome.DEAD:
            log.warning("webhooks: delivery %d dead after %d attempts", claim.delivery_id, claim.attempts + 1)


def _changes(
    claim: Claim, result: AttemptResult, kind: Outcome, now: datetime, delay: timedelta
) -> dict[str, Any]:
    """The delivery's new columns after one attempt decided ``kind``."""
    retry = kind is Outcome.RETRY
    return {
        "id": claim.delivery_id,
        "attempts": claim.attempts + 1,
        "last_status": result.status_code,
        "last_error": result.error,
        "state": state_after(kind),
        "next_attempt_at": now + delay if retry else None,
        "delivered_at": now if kind is Outcome.DELIVERED else None,
    }


def _attempt_row(claim: Claim, result: AttemptResult) -> dict[str, Any]:
    return {
        "delivery_id": claim.delivery_id,
        "attempted_at": result.attempted_at,
        "status_code": result.status_code,
        "error": result.error,
        "response_excerpt": result.excerpt,
        "duration_ms": result.duration_ms,
    }
