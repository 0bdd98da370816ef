"""What :class:`~service.client.Monitor` and :class:`~service.client.AsyncMonitor` share: the
options, the bounded queue, and the ``log_*`` methods the model's code calls.

``log_*`` never touch the network and never raise (unless ``strict=True``): a record is checked,
encoded and appended to the queue, or counted as ``invalid`` / ``dropped_queue_full``.
"""

from __future__ import annotations

import logging
import random
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from . import records
from .queue import Counters, Kind, RecordQueue
from .records import InvalidRecord, RecordId
from .transport import Delivery

log = logging.getLogger("modelmon.client")

USER_AGENT = "modelmon-client/0.1"
# First backoff of a failed attempt, seconds; doubles per failure up to ``max_backoff``.
FIRST_BACKOFF_SECONDS = 0.5
# At most one warning about invalid records per this many seconds: a caller that logs bad
# records in a hot loop must not pay for (or flood) its own log.
INVALID_WARNING_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how to send; ``headers`` hold the API key and are never logged or shown."""

    base_url: str
    paths: dict[Kind, str]
    headers: dict[str, str] = field(repr=False)
    timeout: float
    verify: ssl.SSLContext | bool = True


def _endpoint(
    url: str, api_key: str | None, model: str, timeout: float, verify: ssl.SSLContext | bool
) -> Endpoint:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"url must be http(s)://host[:port][/prefix], got {url!r}")
    if not model:
        raise ValueError("model is required: the registered model's name")
    headers = {"content-type": "application/json", "user-agent": USER_AGENT}
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    base = url.rstrip("/")
    paths = {kind: f"{base}/v1/models/{quote(model, safe='')}/{kind.value}" for kind in Kind}
    return Endpoint(base, paths, headers, timeout, verify)


def _check_options(batch_size: int, flush_interval: float, max_queue: int, timeout: float) -> None:
    if not 1 <= batch_size <= 10_000:
        raise ValueError("batch_size must be in [1, 10000] (the server's default MODELMON_MAX_BATCH_SIZE)")
    if flush_interval <= 0 or timeout <= 0:
        raise ValueError("flush_interval and timeout must be positive (seconds)")
    if max_queue < batch_size:
        raise ValueError("max_queue must be at least batch_size")


class Recorder:
    """The shared half of a monitor; subclasses send (a thread, or an asyncio task)."""

    def __init__(
        self,
        url: str,
        api_key: str | None,
        *,
        model: str,
        version: str | None = None,
        batch_size: int = 500,
        flush_interval: float = 1.0,
        max_queue: int = 10_000,
        timeout: float = 5.0,
        max_backoff: float = 30.0,
        close_timeout: float = 5.0,
        strict: bool = False,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        """``url``: modelmon's base URL; ``api_key``: an ingest key (``Authorization: Bearer``);
        ``model``/``version``: the registered model, and the version stamped on records naming
        none (default: the server's latest). A batch is sent when ``batch_size`` records of a
        kind wait, or ``flush_interval`` seconds after the last send; at most ``max_queue``
        records are held (more are dropped and counted). ``timeout``: seconds per HTTP attempt;
        ``max_backoff``: longest pause between retries, seconds; ``close_timeout``: how long
        ``close()`` and the exit hook keep sending, seconds. ``strict``: raise
        :class:`InvalidRecord` rather than count it. ``verify``: TLS verification (httpx's).
        Bad options raise ``ValueError`` here, at start-up, never later."""
        _check_options(batch_size, flush_interval, max_queue, timeout)
        self.model = model
        self.version = version
        self._endpoint = _endpoint(url, api_key, model, timeout, verify)
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._max_queue = max_queue
        self._max_backoff = max_backoff
        self._close_timeout = close_timeout
        self._strict = strict
        self._warned_at = -INVALID_WARNING_SECONDS
        self._unwarned = 0
        self._fresh_queue()
        self._opened()

    def _fresh_queue(self) -> None:
        self._queue = RecordQueue(self._max_queue, self._batch_size, self._wake)
        self._delivery = Delivery(
            self._queue, self.model, FIRST_BACKOFF_SECONDS, self._max_backoff, random.Random()
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._endpoint.base_url!r}, model={self.model!r})"

    # Hooks of the sending side.
    def _wake(self) -> None:
        raise NotImplementedError

    def _ensure_running(self) -> None:
        raise NotImplementedError

    def _opened(self) -> None:
        """Called once at the end of ``__init__``."""

    @property
    def counters(self) -> Counters:
        """A consistent snapshot of the counters (see :class:`Counters`)."""
        return self._queue.snapshot()

    def log_prediction(
        self,
        features: Mapping[str, Any],
        prediction: Any,
        *,
        id: RecordId | None = None,
        score: float | None = None,
        scores: Mapping[str, float] | None = None,
        attributes: Mapping[str, Any] | None = None,
        attributions: Mapping[str, float] | None = None,
        subject_id: str | int | None = None,
        timestamp: Any = None,
        version: str | None = None,
    ) -> RecordId:
        """Queue one prediction and return its id (``id``, or a new UUID4 when None).

        Returns in microseconds: nothing here waits for the network. ``timestamp`` is an aware
        datetime or ISO 8601 text (default: now, UTC); NaN feature values are sent as null.
        """
        fields = {
            "features": features, "prediction": prediction, "id": id, "score": score, "scores": scores,
            "attributes": attributes, "attributions": attributions, "subject_id": subject_id,
            "timestamp": timestamp, "version": version,
        }  # fmt: skip
        return self._put_prediction(fields)

    def log_predictions(self, items: Iterable[Mapping[str, Any]]) -> list[RecordId]:
        """Queue many predictions, each a mapping of :meth:`log_prediction`'s arguments; their ids."""
        ids: list[RecordId] = []
        for item in items:
            ids.append(self._put_prediction(item))
        return ids

    def log_outcome(
        self, prediction_id: RecordId, *, label: Any = None, value: float | None = None, timestamp: Any = None
    ) -> None:
        """Queue the true outcome of prediction ``prediction_id``: ``label`` (classification) or
        ``value`` (regression); ``timestamp`` is when it became known (default: now)."""
        self._put_outcome(
            {"prediction_id": prediction_id, "label": label, "value": value, "timestamp": timestamp}
        )

    def log_outcomes(self, items: Iterable[Mapping[str, Any]]) -> None:
        """Queue many outcomes, each a mapping of :meth:`log_outcome`'s arguments."""
        for item in items:
            self._put_outcome(item)

    def _put_prediction(self, item: Mapping[str, Any]) -> RecordId:
        try:
            records.unknown_keys(item, records.PREDICTION_KEYS)
            version = item.get("version") or self.version
            chosen, encoded = records.prediction(**{**item, "version": version})
        except Exception as error:  # never let a bad record reach the model's request
            self._invalid(error)
            given = item.get("id") if isinstance(item, Mapping) else None
            return given if isinstance(given, (str, int)) else records.new_id()
        self._put(Kind.PREDICTIONS, encoded)
        return chosen

    def _put_outcome(self, item: Mapping[str, Any]) -> None:
        try:
            records.unknown_keys(item, records.OUTCOME_KEYS)
            encoded = records.outcome(**item)
        except Exception as error:  # never let a bad record reach the model's request
            self._invalid(error)
            return
        self._put(Kind.OUTCOMES, encoded)

    def _put(self, kind: Kind, encoded: bytes) -> None:
        if self._queue.put(kind, encoded):
            self._ensure_running()

    def _invalid(self, error: Exception) -> None:
        if self._strict:
            if isinstance(error, InvalidRecord):
                raise error
            raise InvalidRecord(str(error)) from error
        self._queue.count("invalid")
        now = time.monotonic()
        if now - self._warned_at < INVALID_WARNING_SECONDS:
            self._unwarned += 1
            return
        also = f" ({self._unwarned} more since the last warning)" if self._unwarned else ""
        self._warned_at, self._unwarned = now, 0
        log.warning("modelmon client dropped an invalid record of model %r: %s%s", self.model, error, also)
