"""The threaded monitor: ``log_*`` append to a bounded queue, a daemon thread sends batches.

The thread sends a batch when ``batch_size`` records of a kind wait, and everything waiting
every ``flush_interval`` seconds. It retries failed attempts with backoff for as long as the
monitor is open (the queue's bound caps the memory that costs), and on ``close()`` or at
interpreter exit it sends what is left within ``close_timeout`` seconds.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref

import httpx

from .queue import Kind
from .recorder import Recorder
from .transport import Batch, judge, network_error

log = logging.getLogger("modelmon.client")

_OPEN: weakref.WeakSet[Monitor] = weakref.WeakSet()


class Monitor(Recorder):
    """Logs predictions and outcomes to modelmon from a background thread; never blocks the caller.

    ``Monitor(url, api_key, model=...)``; see :class:`~service.client.recorder.Recorder` for the
    options and ``docs/guide-model-teams.md`` for a walk-through.
    """

    def _fresh_queue(self) -> None:
        super()._fresh_queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._wakeup = threading.Event()
        self._flush_now = threading.Event()
        self._closing = threading.Event()
        self._deadline = float("inf")

    def _opened(self) -> None:
        self._closed = False
        self._left_at_close = 0
        atexit.register(self._close_at_exit)
        _OPEN.add(self)
        # Started now, not at the first log_*: building the HTTP client (TLS context, ~10-30 ms
        # of CPU) belongs to the service's start-up, not to its first requests.
        self._ensure_running()

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _wake(self) -> None:
        self._wakeup.set()

    def _ensure_running(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None and not self._closing.is_set():
                thread = threading.Thread(target=self._run, name="modelmon-client", daemon=True)
                thread.start()
                self._thread = thread

    def flush(self, timeout: float = 5.0) -> bool:
        """Send everything queued now and wait until nothing is held; False after ``timeout`` s."""
        self._flush_now.set()
        self._wakeup.set()
        return self._queue.wait_empty(timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Send what is queued (waiting at most ``timeout`` seconds, default ``close_timeout``),
        then stop. True if nothing was left unsent; what was is counted in ``dropped_on_close``."""
        with self._start_lock:
            if self._closed:
                return self._left_at_close == 0
            self._closed = True
            self._deadline = time.monotonic() + (self._close_timeout if timeout is None else timeout)
            self._closing.set()
            self._wakeup.set()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, self._deadline - time.monotonic()))
        atexit.unregister(self._close_at_exit)
        self._left_at_close = self._queue.close()
        if self._left_at_close:
            log.warning(
                "modelmon client closed with %d records unsent (counted as dropped_on_close)",
                self._left_at_close,
            )
        return self._left_at_close == 0

    def _close_at_exit(self) -> None:
        self.close()

    def _run(self) -> None:
        try:
            with httpx.Client(
                headers=self._endpoint.headers, timeout=self._endpoint.timeout, verify=self._endpoint.verify
            ) as http:
                self._loop(http)
        except Exception:  # the thread must not die silently; the records stay counted as queued
            log.exception("modelmon client's sending thread stopped")

    def _loop(self, http: httpx.Client) -> None:
        last = time.monotonic()
        while True:
            now = time.monotonic()
            closing = self._closing.is_set()
            due = closing or self._flush_now.is_set() or now - last >= self._flush_interval
            if due:
                last = now
                self._flush_now.clear()
            if not self._send_waiting(http, partial=due) or (closing and self._queue.waiting() == 0):
                return
            self._wakeup.wait(max(0.0, last + self._flush_interval - time.monotonic()))
            self._wakeup.clear()

    def _send_waiting(self, http: httpx.Client, *, partial: bool) -> bool:
        """Send waiting batches, one of each kind in turn; False when close() gave up on them."""
        while True:
            progressed = False
            for kind in Kind:
                records = self._queue.take(kind, partial=partial)
                if records:
                    progressed = True
                    if not self._deliver(http, Batch(kind, [records])):
                        return False
            if not progressed:
                return True

    def _deliver(self, http: httpx.Client, batch: Batch) -> bool:
        while not batch.done:
            try:
                response = http.post(self._endpoint.paths[batch.kind], content=batch.body())
                verdict = judge(
                    batch.kind, response.status_code, response.headers, response.content, len(batch.current)
                )
            except httpx.HTTPError as error:
                verdict = network_error(error)
            delay = self._delivery.apply(batch, verdict)
            if delay > 0 and not self._pause(delay):
                return False
        return True

    def _pause(self, delay: float) -> bool:
        """Wait ``delay`` seconds before the next attempt; False when close()'s deadline comes first.

        close() cuts a running wait short once, so a closing monitor makes one prompt last
        attempt rather than sleeping through its deadline."""
        if not self._closing.is_set():
            self._closing.wait(delay)
            return True
        if time.monotonic() + delay >= self._deadline:
            return False
        time.sleep(delay)
        return True

    def _after_fork(self) -> None:
        """In a forked child (gunicorn, multiprocessing): the parent's thread does not exist here
        and its records are the parent's to send; start empty, with a thread of our own."""
        self._fresh_queue()
        if self._closed:
            self._queue.close()
            self._closing.set()


def _after_fork_in_child() -> None:
    for monitor in list(_OPEN):
        monitor._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
