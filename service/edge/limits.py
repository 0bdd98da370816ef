"""How many body bytes each route takes, and which routes' bodies FastAPI parses as JSON.

Ingestion keeps ``MODELMON_MAX_BODY_BYTES`` (32 MiB) and reference uploads
``MODELMON_MAX_REFERENCE_BODY_BYTES`` (128 MiB). A model's registration and its monitor
configuration may list 2,000 features with their categories: 1 MiB. Every other route takes
at most 64 KiB: the largest such body (a webhook with a 2,048-character URL and 500-character
description, a silence, a key) is under 4 KiB, and a limit that small bounds what a
caller can make the server parse and validate on the event loop to ~1 ms.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.config import Settings

KIB = 1024
SMALL_BODY_BYTES = 64 * KIB
CONFIGURATION_BODY_BYTES = 1024 * KIB
INGESTION_ROUTES = frozenset(
    {
        ("POST", "/v1/models/{name}/predictions"),
        ("POST", "/v1/models/{name}/outcomes"),
        ("POST", "/v1/models/{name}/profiles"),  # uploaded bucket profiles (service/profiles)
    }
)
REFERENCE_ROUTE = ("POST", "/v1/models/{name}/reference")
CONFIGURATION_ROUTES = frozenset(
    {
        ("POST", "/v1/models"),
        ("PUT", "/v1/models/{name}/monitor"),
        ("POST", "/v1/models/{name}/monitor/backtest"),
    }
)


@dataclass(frozen=True, slots=True)
class BodyLimits:
    ingestion: int
    reference: int
    configuration: int = CONFIGURATION_BODY_BYTES
    small: int = SMALL_BODY_BYTES

    @classmethod
    def of(cls, settings: Settings) -> BodyLimits:
        return cls(ingestion=settings.max_body_bytes, reference=settings.max_reference_body_bytes)

    def for_route(self, method: str, template: str | None) -> int:
        """Bytes a request to ``method template`` may carry (``template`` None: no route)."""
        route = (method, template)
        if route in INGESTION_ROUTES:
            return self.ingestion
        if route == REFERENCE_ROUTE:
            return self.reference
        if route in CONFIGURATION_ROUTES:
            return self.configuration
        return self.small
