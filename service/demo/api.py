"""The demo's HTTP client: the public REST API only, exactly as a model service would call it."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson

from service import __version__

TIMEOUT_SECONDS = 60.0
# 429 (a rate limit) and 503 (database busy) are worth another try; the ids make a resend safe.
RETRYABLE = frozenset({429, 503})
RETRIES = 5


class DemoError(RuntimeError):
    """Something the demo cannot go on without; the message says what and why."""


def _explain(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        errors = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in body.get("errors") or [])
        return f"{body.get('detail', '')}{' (' + errors + ')' if errors else ''}"
    return str(body)[:300]


class Api:
    """A thin client for one modelmon: JSON in and out, the API key on every request, and an
    exception naming the server's own error message on any answer other than 2xx."""

    def __init__(self, url: str, api_key: str | None) -> None:
        headers = {"user-agent": f"modelmon-demo/{__version__}"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=TIMEOUT_SECONDS, trust_env=False)

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        content = None if body is None else orjson.dumps(body)
        headers = {} if body is None else {"content-type": "application/json"}
        query = {k: v for k, v in params.items() if v is not None}
        for attempt in range(RETRIES + 1):
            try:
                response = self.http.request(method, path, content=content, headers=headers, params=query)
            except httpx.TransportError as error:
                raise DemoError(f"cannot reach modelmon at {self.url}: {error}") from None
            if response.status_code not in RETRYABLE or attempt == RETRIES:
                break
            self._pause(response, attempt)
        if response.status_code == 401:
            raise DemoError(f"{method} {path}: 401, the API key was refused (pass --api-key)")
        if response.status_code == 403:
            raise DemoError(f"{method} {path}: 403, the API key may not do this: use an admin key")
        if not response.is_success:
            raise DemoError(f"{method} {path}: {response.status_code} {_explain(response)}")
        return response.json() if response.content else None

    @staticmethod
    def _pause(response: httpx.Response, attempt: int) -> None:
        wait = response.headers.get("retry-after")
        time.sleep(min(float(wait) if wait and wait.isdigit() else 0.5 * 2**attempt, 10.0))

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, **params)

    def post(self, path: str, body: Any) -> Any:
        return self.call("POST", path, body)

    def put(self, path: str, body: Any) -> Any:
        return self.call("PUT", path, body)

    def all_alerts(self, model: str) -> list[dict[str, Any]]:
        """Every alert of ``model``, newest first (pages through ``next_before``)."""
        found: list[dict[str, Any]] = []
        before = None
        while True:
            page = self.get("/v1/alerts", model=model, limit=1000, before=before)
            found += page["items"]
            before = page.get("next_before")
            if before is None:
                return found

    def evaluations(self, model: str, **filters: Any) -> list[dict[str, Any]]:
        """Every stored figure matching ``filters`` (latest revisions), oldest window first."""
        found: list[dict[str, Any]] = []
        offset: int | None = 0
        while offset is not None:
            page = self.get(f"/v1/models/{model}/evaluations", limit=20_000, offset=offset, **filters)
            found += page["items"]
            offset = page.get("next_offset")
        return found
