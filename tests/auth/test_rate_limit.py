"""Per-key rate limits: 429 with Retry-After, per key, refilling over time."""

from __future__ import annotations

from collections.abc import Callable

from service.auth.ratelimit import RateLimiter
from tests.asgi_client import AppClient
from tests.auth.test_keys import bearer, make_key


def test_a_key_over_its_burst_gets_429_with_retry_after(client_with: Callable[..., AppClient]) -> None:
    client = client_with(rate_limit_per_second=0.5, rate_limit_burst=3)
    other = make_key(client, "read")  # the admin key's first request
    answers = [client.get("/v1/models").status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    refused = client.get("/v1/models")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "2"  # 1 token at 0.5/s
    assert "requests/s" in refused.json()["detail"]
    # Another key has its own bucket.
    assert client.get("/v1/models", headers=bearer(other)).status_code == 200


def test_buckets_refill_at_the_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=10, burst=2, monotonic=lambda: now[0])
    assert [limiter.take("k") for _ in range(2)] == [0.0, 0.0]
    assert abs(limiter.take("k") - 0.1) < 1e-9  # empty: a token comes back in 1/10 s
    now[0] += 0.1
    assert limiter.take("k") == 0.0
    now[0] += 10  # never more than the burst
    assert [limiter.take("k") for _ in range(3)][:2] == [0.0, 0.0]
    assert RateLimiter(rate=0, burst=1).take("k") == 0.0  # 0 turns it off
