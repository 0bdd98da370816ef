"""A small W3C WebDriver client over httpx, driving a real headless Chromium via chromedriver.

Only what the status-page tests use: sessions, navigation, cookies, element look-up and
text, window size and screenshots (chromedriver and the app listen on loopback only).
"""

from __future__ import annotations

import base64
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"  # fixed by the W3C WebDriver specification
# The flags known to work on these machines (headless, no sandbox as root, nothing fetched).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class WebDriverError(AssertionError):
    pass


class Browser:
    """One WebDriver session."""

    def __init__(self, http: httpx.Client, session_id: str) -> None:
        self.http = http
        self.base = f"/session/{session_id}"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, self.base + path, json=body)
        payload = response.json()
        if response.status_code != 200:
            raise WebDriverError(f"{method} {path}: {response.status_code} {payload}")
        return payload["value"]

    def get(self, url: str) -> None:
        self._call("POST", "/url", {"url": url})

    def add_cookie(self, name: str, value: str) -> None:
        self._call("POST", "/cookie", {"cookie": {"name": name, "value": value, "path": "/"}})

    def cookies(self) -> list[dict[str, Any]]:
        """The cookies of the current page's site, as WebDriver reports them."""
        found: list[dict[str, Any]] = self._call("GET", "/cookie")
        return found

    def type_into(self, element: str, text: str) -> None:
        self._call("POST", f"/element/{element}/value", {"text": text})

    def click(self, element: str) -> None:
        self._call("POST", f"/element/{element}/click", {})

    def title(self) -> str:
        title: str = self._call("GET", "/title")
        return title

    def wait_for_title(self, expected: str, timeout: float = 10.0) -> str:
        """The title once it is ``expected``, or the last one seen after ``timeout`` seconds.

        A click that submits a form returns before the next page has loaded on a busy machine
        (seen once under the parallel suite), so a test reading the title right away races it.
        """
        deadline = time.monotonic() + timeout
        seen = self.title()
        while seen != expected and time.monotonic() < deadline:
            time.sleep(0.05)
            seen = self.title()
        return seen

    def find_all(self, css: str, within: str | None = None) -> list[str]:
        """Ids of the elements matching ``css`` (inside element ``within`` if given)."""
        scope = f"/element/{within}" if within else ""
        found = self._call("POST", f"{scope}/elements", {"using": "css selector", "value": css})
        return [item[ELEMENT_KEY] for item in found]

    def find(self, css: str, within: str | None = None) -> str:
        found = self.find_all(css, within)
        if not found:
            raise WebDriverError(f"no element matches {css!r}")
        return found[0]

    def text(self, element: str) -> str:
        text: str = self._call("GET", f"/element/{element}/text")
        return text

    def attribute(self, element: str, name: str) -> str | None:
        value: str | None = self._call("GET", f"/element/{element}/attribute/{name}")
        return value

    def texts(self, css: str, within: str | None = None) -> list[str]:
        return [self.text(element) for element in self.find_all(css, within)]

    def full_page_screenshot(self, path: Path, width: int = 1280) -> bytes:
        """Resize the window to the whole document, then take the (viewport) screenshot.

        The window is first made short: a document is never shorter than its viewport, so a
        window left tall by a longer page would pad a short one."""
        self._call("POST", "/window/rect", {"width": width, "height": 600})
        document, frame = self._call("POST", "/execute/sync", {"script": MEASURE, "args": []})
        # The window's height includes the browser's own frame: add it, so the viewport is
        # exactly the document.
        self._call("POST", "/window/rect", {"width": width, "height": int(document) + int(frame)})
        png = base64.b64decode(self._call("GET", "/screenshot"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
        return png


MEASURE = (
    "return [Math.ceil(document.documentElement.scrollHeight), window.outerHeight - window.innerHeight];"
)


def _wait_ready(http: httpx.Client, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise WebDriverError(f"chromedriver exited with {process.returncode}")
        try:
            if http.get("/status").json()["value"]["ready"]:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise WebDriverError("chromedriver did not become ready in 20 s")


@contextmanager
def chromium(chromedriver: str, binary: str) -> Iterator[Browser]:
    """A chromedriver on a free loopback port and one headless Chromium session on it."""
    port = free_port()
    process = subprocess.Popen(
        [chromedriver, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        with (
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http,
            tempfile.TemporaryDirectory() as profile,
        ):
            _wait_ready(http, process)
            args = [*CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1280,900"]
            options = {"binary": binary, "args": args}
            capabilities = {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}
            created = http.post("/session", json={"capabilities": capabilities})
            if created.status_code != 200:
                raise WebDriverError(f"new session: {created.status_code} {created.text}")
            session_id = created.json()["value"]["sessionId"]
            try:
                yield Browser(http, session_id)
            finally:
                http.delete(f"/session/{session_id}")
    finally:
        process.terminate()
        process.wait(timeout=20)
