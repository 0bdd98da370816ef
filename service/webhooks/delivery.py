"""One delivery attempt: sign the body (Standard Webhooks), POST it, judge the answer.

No database here: :mod:`service.webhooks.jobs` claims the deliveries, calls :func:`attempt`
for each from a thread pool, and records the results.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpcore
import httpx
from standardwebhooks import Webhook

from service import __version__
from service.clock import Clock
from service.webhooks.deadline import DeadlineBackend, deadline_after
from service.webhooks.netguard import Guard, GuardedBackend, RefusedUrl
from service.webhooks.states import Outcome

log = logging.getLogger("modelmon.webhooks")

USER_AGENT = f"modelmon/{__version__}"
# The response excerpt kept per attempt: enough for an error message, bounded so a
# receiver answering megabytes cannot bloat the attempts table.
EXCERPT_BYTES = 1024
FIRST_DELAY_SECONDS = 15.0
MAX_DELAY_SECONDS = 4 * 3600.0
JITTER = 0.2


def nominal_delay(attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones, before jitter:
    ``min(15 · 2^(attempts-1), 14,400)`` — 15 s, 30 s, 1 min, … capped at 4 h."""
    return min(FIRST_DELAY_SECONDS * 2.0 ** (attempts - 1), MAX_DELAY_SECONDS)


def retry_delay(attempts: int, rng: random.Random) -> timedelta:
    """:func:`nominal_delay` times a uniform factor in [0.8, 1.2]: ±20 % jitter spreads the
    retries of many deliveries that failed together (a receiver outage) instead of
    sending them back in one burst."""
    factor = rng.uniform(1.0 - JITTER, 1.0 + JITTER)
    return timedelta(seconds=nominal_delay(attempts) * factor)


def schedule(max_attempts: int) -> list[tuple[int, float, float]]:
    """(attempt, nominal seconds after the previous one, seconds after the first) per attempt."""
    rows, elapsed = [(1, 0.0, 0.0)], 0.0
    for attempt in range(2, max_attempts + 1):
        gap = nominal_delay(attempt - 1)
        elapsed += gap
        rows.append((attempt, gap, elapsed))
    return rows


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery claimed for one attempt; ``lease_until`` is the claim's token."""

    delivery_id: int
    endpoint_id: int
    message_id: str
    url: str
    body: bytes
    secrets: tuple[str, ...]
    attempts: int
    lease_until: datetime


@dataclass(frozen=True, slots=True)
class AttemptResult:
    attempted_at: datetime
    status_code: int | None
    error: str | None
    excerpt: str | None
    duration_ms: float


def outcome(status_code: int | None, attempts: int, max_attempts: int) -> Outcome:
    """What an attempt means for its delivery: 2xx delivered, 410 disabled (the receiver
    is gone for good), anything else — another status, a network error, a timeout, a
    refused address — a retry, or dead once ``attempts`` reached ``max_attempts``."""
    if status_code is not None and 200 <= status_code < 300:
        return Outcome.DELIVERED
    if status_code == 410:
        return Outcome.DISABLED
    return Outcome.DEAD if attempts >= max_attempts else Outcome.RETRY


def signed_headers(message_id: str, body: bytes, secrets: tuple[str, ...], at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers: one ``v1,<base64 HMAC-SHA256>`` signature per secret,
    space-separated, over ``"{webhook-id}.{webhook-timestamp}.{body}"``."""
    text = body.decode()
    signatures = " ".join(Webhook(secret).sign(message_id, at, text) for secret in secrets)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def build_client(guard: Guard, timeout: float, concurrency: int) -> httpx.Client:
    """An HTTP client that connects only to vetted addresses, follows no redirect (a 3xx
    to an internal address would skip the guard) and ignores proxy variables."""
    transport = httpx.HTTPTransport(trust_env=False)
    # Replaces the transport's pool with one whose sockets come from the guarded backend.
    transport._pool = _guarded_pool(guard, concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.Client(
        transport=transport, timeout=timeout, follow_redirects=False, trust_env=False, limits=limits
    )


def _guarded_pool(guard: Guard, concurrency: int) -> httpcore.ConnectionPool:
    return httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=concurrency,
        max_keepalive_connections=concurrency,
        network_backend=DeadlineBackend(GuardedBackend(guard)),
    )


def attempt(
    client: httpx.Client, claim: Claim, *, guard: Guard, timeout: float, clock: Clock, signing_clock: Clock
) -> AttemptResult:
    """POST the claim's body once; never raises for network trouble (it becomes ``error``).

    The whole exchange — connect, send, status, headers, excerpt — ends within ``timeout``
    seconds (:mod:`service.webhooks.deadline`), not only each of its socket operations."""
    attempted_at, started = clock(), time.monotonic()
    try:
        guard.vet_url(claim.url)
        headers = signed_headers(claim.message_id, claim.body, claim.secrets, signing_clock())
        with (
            deadline_after(timeout),
            client.stream(
                "POST", claim.url, content=claim.body, headers=headers, timeout=timeout
            ) as response,
        ):
            excerpt = _read_excerpt(response)
            status: int | None = response.status_code
            error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    except RefusedUrl as refused:
        status, error, excerpt = None, f"refused: {refused}", None
    except (httpx.HTTPError, httpx.InvalidURL) as failure:
        status, error, excerpt = None, f"{type(failure).__name__}: {failure}"[:1000], None
    except Exception as failure:  # a bug must cost one attempt, not the whole batch
        log.exception("webhooks: attempt of delivery %d failed unexpectedly", claim.delivery_id)
        status, error, excerpt = None, f"internal error: {type(failure).__name__}"[:1000], None
    duration_ms = (time.monotonic() - started) * 1000.0
    return AttemptResult(attempted_at, status, error, excerpt, duration_ms)


def _read_excerpt(response: httpx.Response) -> str | None:
    """The first ``EXCERPT_BYTES`` of the body as text; the rest is never read."""
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= EXCERPT_BYTES:
            break
    if not size:
        return None
    # NUL cannot be stored in a Postgres text column.
    return b"".join(chunks)[:EXCERPT_BYTES].decode("utf-8", errors="replace").replace("\x00", "\ufffd")
