"""Holding back Python's cyclic garbage collector while a large batch is in memory.

A 30 MiB batch is ~1.5 million Python objects while it is parsed and validated. The
collector's full (generation 2) pass walks every live object with the GIL held: ~250 ms
here, three times per batch, during which the event loop answers nothing (a liveness probe
waits). Batches make no reference cycles (records are dicts, lists and scalars, freed by
reference counting when the request ends), so the passes find nothing to free: they are
deferred while any batch is being handled and run, if due, after the last one, on
far fewer objects. Under a stream of overlapping batches a collection still runs once every
``LONGEST_DEFERRAL_SECONDS``.

``gc.freeze()`` at start-up (``freeze_startup_objects``) moves the ~400,000 objects of
imported modules out of every later pass: a pass then walks only what requests hold, which
makes the deferred pass short and, alone, already keeps a 30 MiB batch of flat records (one
container per record and field group, ~100,000) under the 100 ms the live test allows.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

LONGEST_DEFERRAL_SECONDS = 60.0

_lock = threading.Lock()
_holders = 0
_since = 0.0
_was_enabled = False


@contextmanager
def collection_deferred() -> Iterator[None]:
    """Automatic cyclic collection is off while any thread is inside this block."""
    global _holders, _since, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            _since = time.monotonic()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
            overdue = _holders > 0 and time.monotonic() - _since > LONGEST_DEFERRAL_SECONDS
            if overdue:
                _since = time.monotonic()
        if overdue:
            gc.collect()


def release_in_pieces(*batches: list[Any]) -> None:
    """Empty each list 1,000 items at a time. Freeing 22,000 records at once frees ~1 million
    objects in one go (~70 ms with the GIL held); in pieces, other threads run in between."""
    for batch in batches:
        while batch:
            del batch[-1000:]


def freeze_startup_objects() -> None:
    """Exclude every object alive now (modules, classes, schemas) from later collections."""
    gc.collect()
    gc.freeze()


def favour_the_event_loop() -> None:
    """Hand the GIL between threads every 1 ms instead of 5 ms.

    While a worker thread parses or validates a batch, the event loop waits up to one switch
    interval for the GIL each time it has blocked on the network, a few times per request: a
    /healthz took 7 to 15 ms at 5 ms during a 30 MiB batch, and up to 114 ms when the machine
    was busy. The price is more switches for CPU-bound threads (~1 % here).
    """
    sys.setswitchinterval(0.001)
