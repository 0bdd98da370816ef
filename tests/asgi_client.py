"""A synchronous httpx client for the ASGI app, for tests.

httpx's ASGITransport is async only; this runs one event loop in a background thread
(an anyio blocking portal) and sends every request through it, so tests stay plain
functions and the app runs exactly as under uvicorn (same event loop, threadpool hops).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio.from_thread
import httpx
from fastapi import FastAPI

from tests.auth import AUTH_HEADERS


class AppClient:
    def __init__(self, portal: anyio.from_thread.BlockingPortal, client: httpx.AsyncClient) -> None:
        self._portal = portal
        self._client = client

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(lambda: self._client.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)


@contextmanager
def app_client(app: FastAPI) -> Iterator[AppClient]:
    with anyio.from_thread.start_blocking_portal() as portal:
        transport = httpx.ASGITransport(app=app)
        client = portal.call(lambda: _open(transport))
        try:
            yield AppClient(portal, client)
        finally:
            portal.call(client.aclose)


async def _open(transport: httpx.ASGITransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport, base_url="http://modelmon.test", headers=AUTH_HEADERS)
