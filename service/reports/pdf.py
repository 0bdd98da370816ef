"""Printing the compliance report's HTML to PDF with headless Chromium (``--print-to-pdf``).

The page is written to a private temporary directory and opened as a file: it has no script
and no external resource, and the profile directory is thrown away afterwards. One print
takes ~2 s of a core here (Chromium's start-up is most of it); at most ``PRINTS`` run at once
per process, a request waiting longer than ``WAIT_SECONDS`` for its turn gets a 503.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from service.errors import FieldError, Unavailable

BINARIES = ("chromium", "chromium-browser", "google-chrome")
PRINTS = 2
WAIT_SECONDS = 60.0
# A 40-page report printed in ~4 s here; four times the observed worst leaves room on a
# loaded machine and still ends a hung Chromium.
PRINT_TIMEOUT_SECONDS = 120.0
_POLL_SECONDS = 0.05
# A threading semaphore, not asyncio's: it belongs to no event loop (tests run several).
_SLOTS = threading.BoundedSemaphore(PRINTS)


def find_chromium(configured: str | None) -> str:
    """The configured binary, else the first of ``BINARIES`` on PATH; 503 naming what is missing."""
    names = (configured,) if configured else BINARIES
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    wanted = f"MODELMON_REPORT_CHROMIUM={configured!r}" if configured else " / ".join(BINARIES)
    detail = f"format=pdf needs headless Chromium, and {wanted} is not installed or not executable"
    raise Unavailable(detail, [FieldError(None, "format", detail)], {"Retry-After": "3600"})


def _arguments(binary: str, profile: Path, page: Path, out: Path) -> list[str]:
    arguments = [
        binary, "--headless", "--disable-gpu", "--no-pdf-header-footer", "--no-first-run",
        "--disable-extensions", "--disable-background-networking", "--disable-sync",
        f"--user-data-dir={profile}", f"--print-to-pdf={out}",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Chromium refuses to start its sandbox as root (containers); the page is our own
        # escaped HTML with no script, opened from a file.
        arguments.append("--no-sandbox")
    return [*arguments, page.as_uri()]


def print_pdf(html: str, binary: str) -> bytes:
    """The page printed to PDF (A4, the page's own print stylesheet); 503 if Chromium fails."""
    with tempfile.TemporaryDirectory(prefix="modelmon-report-") as directory:
        root = Path(directory)
        page, out = root / "report.html", root / "report.pdf"
        page.write_text(html, encoding="utf-8")
        try:
            done = subprocess.run(
                _arguments(binary, root / "profile", page, out),
                capture_output=True, timeout=PRINT_TIMEOUT_SECONDS, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as error:
            _failed(f"Chromium ({binary}) did not print the report: {error}")
        if done.returncode != 0 or not out.exists():
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            _failed(f"Chromium ({binary}) exited with {done.returncode}: {tail[0]}")
        return out.read_bytes()


def _failed(detail: str) -> None:
    raise Unavailable(detail, [FieldError(None, "format", detail)], {"Retry-After": "60"})


@asynccontextmanager
async def print_slot() -> AsyncIterator[None]:
    """One of ``PRINTS`` turns of this process, waited for on the event loop (holding no
    thread); 503 with ``Retry-After`` after ``WAIT_SECONDS`` without one."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not _SLOTS.acquire(blocking=False):
        if time.monotonic() >= deadline:
            detail = f"{PRINTS} PDF reports are being printed; retry later"
            raise Unavailable(detail, [FieldError(None, "format", detail)], {"Retry-After": "30"})
        await asyncio.sleep(_POLL_SECONDS)
    try:
        yield
    finally:
        _SLOTS.release()
