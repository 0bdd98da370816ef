"""The asyncio monitor, for model servers that run an event loop (FastAPI, aiohttp, Ray Serve…).

``log_*`` are the same plain (not ``async``) methods as :class:`~service.client.Monitor`'s: they
append to the bounded queue and return; an asyncio task on the caller's loop sends. The task
starts at the first ``log_*`` called inside a running loop, or at ``await monitor.start()`` /
``async with``. Records logged at interpreter exit without ``aclose()`` are sent by a
synchronous last attempt (``atexit``), within ``close_timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib
import logging
import threading
import time

import httpx

from .queue import Kind
from .recorder import Recorder
from .transport import Batch, Verdict, judge, network_error

log = logging.getLogger("modelmon.client")


class AsyncMonitor(Recorder):
    """Logs predictions and outcomes to modelmon from an asyncio task; ``log_*`` never await.

    Waits with a deadline use ``asyncio.timeout``, never ``asyncio.wait_for``: on Python 3.11
    ``wait_for`` swallows a cancellation that arrives as the awaited event fires, and the
    sending task, cancelled by ``asyncio.run`` as it returned just after a ``flush()``, then
    looped on and ``asyncio.run`` never returned (a test hung for 360 s this way)."""

    def _fresh_queue(self) -> None:
        super()._fresh_queue()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._wakeup = asyncio.Event()
        self._closing = asyncio.Event()
        self._flush_now = False
        self._deadline = float("inf")
        self._current: Batch | None = None

    def _opened(self) -> None:
        self._closed = False
        self._left_at_close = 0
        atexit.register(self._send_at_exit)

    async def __aenter__(self) -> AsyncMonitor:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Start the sending task on the running loop (also done by the first ``log_*`` in a loop)."""
        if not self._running() and not self._closed:
            self._start(asyncio.get_running_loop())

    def _running(self) -> bool:
        # A task whose loop ended (``asyncio.run`` returned) is done: the next loop starts anew.
        return self._task is not None and not self._task.done()

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._task is not None:  # a previous loop's task: its events are bound to that loop
            self._wakeup, self._closing = asyncio.Event(), asyncio.Event()
        self._loop, self._loop_thread = loop, threading.get_ident()
        self._task = loop.create_task(self._run(), name="modelmon-client")

    def _ensure_running(self) -> None:
        if self._running() or self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # outside a loop: the records wait for start(), or for the next log_* inside one
        self._start(loop)

    def _wake(self) -> None:
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._wakeup.set()
        else:  # asyncio.Event is not thread-safe; a log_* from a worker thread goes through the loop
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing left to wake
                loop.call_soon_threadsafe(self._wakeup.set)

    async def flush(self, timeout: float = 5.0) -> bool:
        """Send everything queued now; True once nothing is held, False after ``timeout`` seconds."""
        await self.start()
        self._flush_now = True
        self._wakeup.set()
        deadline = time.monotonic() + timeout
        while self._queue.held() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return self._queue.held() == 0

    async def aclose(self, timeout: float | None = None) -> bool:
        """Send what is queued (at most ``timeout`` seconds, default ``close_timeout``), then stop.
        True if nothing was left unsent; what was is counted in ``dropped_on_close``."""
        if self._closed:
            return self._left_at_close == 0
        await self.start()
        self._closed = True
        self._deadline = time.monotonic() + (self._close_timeout if timeout is None else timeout)
        self._closing.set()
        self._wakeup.set()
        task = self._task
        if task is not None:
            try:
                async with asyncio.timeout(max(0.0, self._deadline - time.monotonic())):
                    await asyncio.shield(task)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        atexit.unregister(self._send_at_exit)
        return self._finish()

    def _finish(self) -> bool:
        self._left_at_close = self._queue.close()
        if self._left_at_close:
            log.warning(
                "modelmon client closed with %d records unsent (counted as dropped_on_close)",
                self._left_at_close,
            )
        return self._left_at_close == 0

    def _new_client(self) -> httpx.AsyncClient:
        """Run in a worker thread: loading the TLS trust store takes 30-80 ms here, and httpx's
        first request imports its asyncio backend (~25 ms); on the loop, either would stall
        every request the service is serving (measured: 84 ms of loop lag, 7 ms in a thread)."""
        with contextlib.suppress(ImportError):  # httpx's own dependency, imported early
            importlib.import_module("anyio._backends._asyncio")
        return httpx.AsyncClient(
            headers=self._endpoint.headers, timeout=self._endpoint.timeout, verify=self._endpoint.verify
        )

    async def _run(self) -> None:
        try:
            http = await asyncio.to_thread(self._new_client)
            async with http:
                await self._send_loop(http)
        except Exception:  # the task must not die silently; the records stay counted as queued
            log.exception("modelmon client's sending task stopped")

    async def _send_loop(self, http: httpx.AsyncClient) -> None:
        if self._current is not None and not await self._deliver(http, self._current):
            return  # the batch a previous loop's task was sending when that loop ended
        last = time.monotonic()
        while True:
            now = time.monotonic()
            closing = self._closing.is_set()
            due = closing or self._flush_now or now - last >= self._flush_interval
            if due:
                last, self._flush_now = now, False
            if not await self._send_waiting(http, partial=due) or (closing and self._queue.waiting() == 0):
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(last + self._flush_interval - time.monotonic()):
                    await self._wakeup.wait()
            self._wakeup.clear()

    async def _send_waiting(self, http: httpx.AsyncClient, *, partial: bool) -> bool:
        while True:
            progressed = False
            for kind in Kind:
                records = self._queue.take(kind, partial=partial)
                if records:
                    progressed = True
                    if not await self._deliver(http, Batch(kind, [records])):
                        return False
            if not progressed:
                return True

    async def _deliver(self, http: httpx.AsyncClient, batch: Batch) -> bool:
        self._current = batch  # kept for the exit-time attempt should the loop stop mid-batch
        while not batch.done:
            try:
                response = await http.post(self._endpoint.paths[batch.kind], content=batch.body())
                verdict = judge(
                    batch.kind, response.status_code, response.headers, response.content, len(batch.current)
                )
            except httpx.HTTPError as error:
                verdict = network_error(error)
            delay = self._delivery.apply(batch, verdict)
            if delay > 0 and not await self._pause(delay):
                return False
        self._current = None
        return True

    async def _pause(self, delay: float) -> bool:
        if not self._closing.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._closing.wait()
            return True
        if time.monotonic() + delay >= self._deadline:
            return False
        await asyncio.sleep(delay)
        return True

    def _send_at_exit(self) -> None:
        """The loop is gone (``asyncio.run`` returned) but records are held: send them
        synchronously, within ``close_timeout`` seconds. Resends are safe: ids deduplicate."""
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + self._close_timeout
        pending = [self._current] if self._current is not None else []
        for kind in Kind:
            while records := self._queue.take(kind, partial=True):
                pending.append(Batch(kind, [records]))
        if pending:
            with httpx.Client(
                headers=self._endpoint.headers, timeout=self._endpoint.timeout, verify=self._endpoint.verify
            ) as http:
                for batch in pending:
                    _deliver_before(http, self, batch, deadline)
        self._finish()


def _deliver_before(http: httpx.Client, monitor: AsyncMonitor, batch: Batch, deadline: float) -> None:
    while not batch.done and time.monotonic() < deadline:
        verdict: Verdict
        try:
            response = http.post(monitor._endpoint.paths[batch.kind], content=batch.body())
            verdict = judge(
                batch.kind, response.status_code, response.headers, response.content, len(batch.current)
            )
        except httpx.HTTPError as error:
            verdict = network_error(error)
        delay = monitor._delivery.apply(batch, verdict)
        if time.monotonic() + delay >= deadline:
            return
        time.sleep(delay)
